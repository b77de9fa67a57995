package cli

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

func (s *session) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage contexts: which clusters metroctl knows and which one it uses",
	}
	cmd.AddCommand(s.createContextCommand(), s.getContextsCommand(), s.currentContextCommand(),
		s.useContextCommand(), s.deleteContextCommand(), s.setEndpointsCommand())
	return cmd
}

func (s *session) createContextCommand() *cobra.Command {
	var endpoints []string
	var keyFile string
	cmd := &cobra.Command{
		Use:   "create-context NAME [--endpoint HOST:PORT ...] [--owner-key FILE]",
		Short: "Create a context with a new (or given) owner key",
		Long: "Creates a context holding an owner key: a new one, or the PKCS#8 PEM key in --owner-key.\n" +
			"It prints the owner public key, which goes into the first node's bootstrap parameters.\n" +
			"The context becomes the current one if there is none.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			st, err := s.store()
			if err != nil {
				return err
			}
			var key ed25519.PrivateKey
			if keyFile != "" {
				data, err := os.ReadFile(keyFile)
				if err != nil {
					return fmt.Errorf("read owner key: %w", err)
				}
				if key, err = identity.ParsePrivateKeyPEM(data); err != nil {
					return fmt.Errorf("owner key file %s: %w", keyFile, err)
				}
			} else if _, key, err = identity.GenerateKey(); err != nil {
				return fmt.Errorf("generate owner key: %w", err)
			}
			if err := st.CreateContext(name, key, endpoints); err != nil {
				return err
			}
			c, err := st.LoadContext(name)
			if err != nil {
				return err
			}
			pubPEM, err := identity.MarshalPublicKeyPEM(c.OwnerKey.Public().(ed25519.PublicKey))
			if err != nil {
				return fmt.Errorf("encode owner public key: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Created context %q in %s.\nOwner public key (for the first node's bootstrap parameters):\n%s", name, st.Dir(), pubPEM)
			if current, err := st.CurrentContext(); err == nil && current == "" {
				if err := st.UseContext(name); err != nil {
					return err
				}
				fmt.Fprintf(out, "Context %q is now the current context.\n", name)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&endpoints, "endpoint", nil, "cluster endpoint host[:port] (repeatable)")
	cmd.Flags().StringVar(&keyFile, "owner-key", "", "PKCS#8 PEM file of an existing owner key")
	return cmd
}

// contextSummary is one context in get-contexts' JSON and YAML output.
type contextSummary struct {
	Name                   string   `json:"name"`
	Current                bool     `json:"current"`
	Endpoints              []string `json:"endpoints"`
	CAFingerprint          string   `json:"caFingerprint,omitempty"`
	OwnerCertificateExpiry string   `json:"ownerCertificateExpiry,omitempty"`
	Error                  string   `json:"error,omitempty"`
}

func summarizeContext(st *config.Store, name, current string) contextSummary {
	sum := contextSummary{Name: name, Current: name == current, Endpoints: []string{}}
	c, err := st.LoadContext(name)
	if err != nil {
		sum.Error = err.Error()
		return sum
	}
	sum.Endpoints = append(sum.Endpoints, c.Endpoints...)
	if c.CA != nil {
		sum.CAFingerprint = pki.Fingerprint(c.CA)
	}
	if c.OwnerCertificate != nil {
		sum.OwnerCertificateExpiry = c.OwnerCertificate.NotAfter.UTC().Format(time.RFC3339)
	}
	return sum
}

func (s *session) getContextsCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get-contexts",
		Short: "List contexts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutputFormat(output)
			if err != nil {
				return err
			}
			st, err := s.store()
			if err != nil {
				return err
			}
			names, err := st.ContextNames()
			if err != nil {
				return err
			}
			current, err := st.CurrentContext()
			if err != nil {
				return err
			}
			sums := make([]contextSummary, 0, len(names))
			for _, n := range names {
				sums = append(sums, summarizeContext(st, n, current))
			}
			if format != outputTable {
				return writeStructured(cmd.OutOrStdout(), format, sums)
			}
			return writeContextTable(cmd.OutOrStdout(), sums)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// writeContextTable lists contexts as kubectl does, the current one marked with '*'.
func writeContextTable(w io.Writer, sums []contextSummary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CURRENT\tNAME\tENDPOINTS\tCA\tOWNER CERTIFICATE")
	for _, c := range sums {
		mark := ""
		if c.Current {
			mark = "*"
		}
		if c.Error != "" {
			// Not tab-terminated, so that the long message does not widen the columns.
			fmt.Fprintf(tw, "%s\t%s\tbroken: %s\n", mark, c.Name, c.Error)
			continue
		}
		endpoints, ca, cert := "-", "not pinned", "none"
		if len(c.Endpoints) > 0 {
			endpoints = strings.Join(c.Endpoints, ",")
		}
		if c.CAFingerprint != "" {
			// The first bytes are enough to tell contexts apart; get-contexts -o yaml shows all.
			ca = c.CAFingerprint[:23] + "..."
		}
		if c.OwnerCertificateExpiry != "" {
			cert = "until " + c.OwnerCertificateExpiry
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mark, c.Name, endpoints, ca, cert)
	}
	return tw.Flush()
}

func (s *session) currentContextCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "current-context",
		Short: "Print the name of the current context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := s.store()
			if err != nil {
				return err
			}
			current, err := st.CurrentContext()
			if err != nil {
				return err
			}
			if current == "" {
				return fmt.Errorf("no current context in %s", st.Dir())
			}
			fmt.Fprintln(cmd.OutOrStdout(), current)
			return nil
		},
	}
}

func (s *session) useContextCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "use-context NAME",
		Short:             "Make a context the current one",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeContextArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := s.store()
			if err != nil {
				return err
			}
			if err := st.UseContext(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Switched to context %q.\n", args[0])
			return nil
		},
	}
}

func (s *session) deleteContextCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete-context NAME",
		Short: "Delete a context and its owner key",
		Long: "Deletes a context with its owner key and certificate. Without another copy of the key,\n" +
			"ownership of that cluster is lost.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeContextArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := s.store()
			if err != nil {
				return err
			}
			if err := st.DeleteContext(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted context %q.\n", args[0])
			return nil
		},
	}
}

func (s *session) setEndpointsCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "set-endpoints NAME HOST[:PORT]...",
		Short:             "Replace the endpoints of a context",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: s.completeContextArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := s.store()
			if err != nil {
				return err
			}
			return st.SetEndpoints(args[0], args[1:])
		},
	}
}
