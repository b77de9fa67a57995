package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// The files `metrics credential` writes into its directory, named as Prometheus' tls_config
// fields expect them.
const (
	metricsCAFile   = "ca.crt"
	metricsCertFile = "client.crt"
	metricsKeyFile  = "client.key"
)

func (s *session) metricsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Scrape the nodes' Prometheus metrics",
		Long: "Every node serves Prometheus metrics over mutual TLS on port 7837, per component\n" +
			"(/metrics/node, /metrics/etcd, /metrics/system), to metrics credentials only: owner\n" +
			"and node certificates are refused. docs/observability.md has a Prometheus configuration.",
	}
	cmd.AddCommand(s.metricsCredentialCommand())
	return cmd
}

func (s *session) metricsCredentialCommand() *cobra.Command {
	var name string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "credential DIR [--name NAME] [--validity DURATION]",
		Short: "Make a scraper's credential: a key and a metrics certificate, with the cluster CA",
		Long: "Creates a key in DIR (" + metricsKeyFile + ", mode 0600, never sent), has the cluster certify it\n" +
			"as a metrics scraper (" + metricsCertFile + ") and writes the cluster CA (" + metricsCAFile + "). The\n" +
			"certificate reads every node's metrics and nothing else; nothing revokes it before it\n" +
			"expires (default 90 days, at most 8784h), so give each Prometheus server its own.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if validity < 0 || validity%time.Second != 0 {
				return fmt.Errorf("--validity %v: give a positive whole number of seconds, or 0 for the default", validity)
			}
			dir := args[0]
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("create %s: %w", dir, err)
			}
			pub, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			pubDER, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				return err
			}
			keyDER, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("issue a metrics credential", err)
			}
			defer done()
			res, err := mgmt.IssueMetricsCredential(ctx, &apb.IssueMetricsCredentialRequest{
				PublicKey: pubDER, Name: name, ValiditySeconds: int64(validity / time.Second),
			})
			if err != nil {
				return explain("issue a metrics credential", err)
			}
			cert, err := x509.ParseCertificate(res.Certificate)
			if err != nil {
				return fmt.Errorf("the cluster sent a certificate that does not parse: %w", err)
			}
			for _, f := range []struct {
				name, pemType string
				der           []byte
				mode          os.FileMode
			}{
				{metricsKeyFile, "PRIVATE KEY", keyDER, 0o600},
				{metricsCertFile, "CERTIFICATE", res.Certificate, 0o644},
				{metricsCAFile, "CERTIFICATE", res.CaCertificate, 0o644},
			} {
				path := filepath.Join(dir, f.name)
				if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: f.pemType, Bytes: f.der}), f.mode); err != nil {
					return fmt.Errorf("write %s: %w", path, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Metrics credential %q for this cluster in %s, valid until %s.\n",
				cert.Subject.CommonName, dir, cert.NotAfter.UTC().Format(time.RFC3339))
			fmt.Fprintf(cmd.OutOrStdout(), "In Prometheus:\n  scheme: https\n  tls_config:\n    ca_file: %s\n    cert_file: %s\n    key_file: %s\n",
				filepath.Join(dir, metricsCAFile), filepath.Join(dir, metricsCertFile), filepath.Join(dir, metricsKeyFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "prometheus", "the scraper's name in its certificate")
	cmd.Flags().DurationVar(&validity, "validity", 0, "how long the certificate lasts (0: the cluster's default, 90 days)")
	return cmd
}
