package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/pki"
)

func (s *session) clusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Take ownership of a cluster, look at it as a whole and configure it",
	}
	cmd.AddCommand(s.takeOwnershipCommand(), s.clusterInfoCommand(), s.clusterStatusCommand(), s.clusterUpdateCommand(), s.clusterTrustReleaseCommand(), s.clusterConfigCommand())
	if s.app.ClusterCommands != nil {
		cmd.AddCommand(s.app.ClusterCommands(s.store)...)
	}
	return cmd
}

func (s *session) takeOwnershipCommand() *cobra.Command {
	var endpoints []string
	var trust caTrust
	cmd := &cobra.Command{
		Use:   "takeownership [--endpoint HOST:PORT ...] [--yes | --accept-ca FINGERPRINT]",
		Short: "Pin the cluster CA and obtain the owner certificate",
		Long: "Takes ownership of a freshly bootstrapped cluster with the context's owner key.\n\n" +
			"On first contact the cluster CA is fetched without verification (trust on first use):\n" +
			"its SHA-256 fingerprint is shown and must be confirmed, unless --yes accepts it or\n" +
			"--accept-ca gives the fingerprint to expect. The CA is then pinned in the context, and\n" +
			"the owner certificate obtained from the cluster is stored beside the owner key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := s.store()
			if err != nil {
				return err
			}
			c, err := st.Resolve(s.contextName)
			if err != nil {
				return err
			}
			if len(endpoints) > 0 {
				if err := st.SetEndpoints(c.Name, endpoints); err != nil {
					return err
				}
				if c, err = st.LoadContext(c.Name); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if c, err = s.pinCA(cmd, st, c, trust); err != nil {
				return err
			}
			if oc := c.OwnerCertificate; oc != nil && time.Now().Before(oc.NotAfter) {
				fmt.Fprintf(out, "Context %q already holds an owner certificate, valid until %s.\n", c.Name, oc.NotAfter.UTC().Format(time.RFC3339))
				return nil
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			cert, err := connect.EscrowOwnerCertificate(ctx, c)
			if err != nil {
				return explain("take ownership", err)
			}
			if err := st.SetOwnerCertificate(c.Name, cert); err != nil {
				return err
			}
			fmt.Fprintf(out, "Took ownership of the cluster; the owner certificate is stored in context %q (valid until %s).\n", c.Name, cert.NotAfter.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&endpoints, "endpoint", nil, "cluster endpoint host[:port] (repeatable); replaces the context's endpoints")
	cmd.Flags().BoolVarP(&trust.yes, "yes", "y", false, "trust the CA offered on first contact without asking")
	cmd.Flags().StringVar(&trust.fingerprint, "accept-ca", "", "trust the CA on first contact only if its SHA-256 fingerprint is this")
	cmd.MarkFlagsMutuallyExclusive("yes", "accept-ca")
	return cmd
}

// pinCA makes sure c pins a CA, fetching and confirming it on first contact, and returns the
// context as stored afterwards. A CA already pinned is checked against --accept-ca if given.
func (s *session) pinCA(cmd *cobra.Command, st *config.Store, c *config.Context, trust caTrust) (*config.Context, error) {
	if c.CA != nil {
		if trust.fingerprint != "" {
			want, err := normalizeFingerprint(trust.fingerprint)
			if err != nil {
				return nil, fmt.Errorf("--accept-ca: %w", err)
			}
			if got := pki.Fingerprint(c.CA); got != want {
				return nil, fmt.Errorf("context %q already pins CA %s, not the one given with --accept-ca (%s)", c.Name, got, want)
			}
		}
		return c, nil
	}
	if len(c.Endpoints) == 0 {
		return nil, fmt.Errorf("context %q has no endpoints; pass --endpoint HOST:PORT", c.Name)
	}
	// The timeout covers talking to the cluster, not the operator's time to answer.
	ctx, cancel := s.timed(cmd.Context())
	offer, err := connect.FetchCA(ctx, c.Endpoints)
	cancel()
	if err != nil {
		return nil, explain("fetch the cluster CA", err)
	}
	if err := trust.decide(cmd.InOrStdin(), cmd.OutOrStdout(), c.Name, offer); err != nil {
		return nil, err
	}
	if err := st.SetCA(c.Name, offer.CA); err != nil {
		return nil, err
	}
	return st.LoadContext(c.Name)
}

func (s *session) clusterInfoCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the cluster's identity, CA fingerprint and curator addresses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutputFormat(output)
			if err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("get cluster info", err)
			}
			defer done()
			info, err := mgmt.GetClusterInfo(ctx, &apb.GetClusterInfoRequest{})
			if err != nil {
				return explain("get cluster info", err)
			}
			if format != outputTable {
				return writeProto(cmd.OutOrStdout(), format, info)
			}
			return writeClusterInfo(cmd.OutOrStdout(), info)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// writeClusterInfo writes the cluster info as aligned "Name: value" lines.
func writeClusterInfo(w io.Writer, info *apb.GetClusterInfoResponse) error {
	fingerprint := "(unparseable CA certificate)"
	if ca, err := pki.ParseCertificateDER(info.CaCertificate); err == nil {
		fingerprint = pki.Fingerprint(ca)
	}
	addresses := "-"
	if len(info.ClusterAddresses) > 0 {
		addresses = strings.Join(info.ClusterAddresses, "\n\t")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "Cluster ID:\t%s\n", info.ClusterId)
	fmt.Fprintf(tw, "CA fingerprint:\t%s\n", fingerprint)
	fmt.Fprintf(tw, "Curator addresses:\t%s\n", addresses)
	fmt.Fprintf(tw, "Attestation:\t%s\n", policyText(info.GetAttestationPolicy(), "\n\t"))
	return tw.Flush()
}

// management loads the context and dials the curator leader as the owner. done closes the
// connection.
func (s *session) management(ctx context.Context) (apb.ManagementClient, func(), error) {
	c, err := s.loadContext()
	if err != nil {
		return nil, nil, err
	}
	conn, err := connect.Cluster(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if err := connect.WaitForLeader(ctx, c, conn); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return apb.NewManagementClient(conn), func() { conn.Close() }, nil
}

// policyText is the cluster's attestation policy: off or required, the EK CAs it trusts and
// the releases it trusts, each on a line of its own.
func policyText(p *apb.AttestationPolicy, sep string) string {
	mode := "off (nodes with a TPM are recorded, not refused)"
	if p.GetRequired() {
		mode = "required"
	}
	lines := []string{mode}
	for _, der := range p.GetEkCaCertificates() {
		name := "(unparseable certificate)"
		if c, err := x509.ParseCertificate(der); err == nil {
			name = c.Subject.String()
		}
		lines = append(lines, "EK CA: "+name)
	}
	for _, r := range p.GetTrustedReleases() {
		lines = append(lines, fmt.Sprintf("trusted release: UKI %x", r))
	}
	return strings.Join(lines, sep)
}
