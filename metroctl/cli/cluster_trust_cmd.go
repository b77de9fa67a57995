package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
)

func (s *session) clusterTrustReleaseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "trust-release UKI_SHA256",
		Short: "Trust a release in the cluster's attestation policy, by its UKI's Authenticode hash",
		Long: "Adds a release to the releases the cluster's TPM attestation trusts, so that nodes\n" +
			"booting it are accepted. UKI_SHA256 is the release's measurement: the SHA-256\n" +
			"Authenticode hash of its unified kernel image, 64 hex digits, which the image build\n" +
			"writes next to the image (measurements.txt) and into the update bundle's manifest.\n" +
			"`metroctl cluster update` trusts its bundle's release by itself. Trusting a release\n" +
			"that is trusted already changes nothing.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			uki, err := hex.DecodeString(args[0])
			if err != nil || len(uki) != sha256.Size {
				return fmt.Errorf("UKI_SHA256: want 64 hex digits (a SHA-256), got %.80q", args[0])
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("trust a release", err)
			}
			defer done()
			res, err := mgmt.TrustRelease(ctx, &apb.TrustReleaseRequest{UkiAuthenticodeSha256: uki})
			if err != nil {
				return explain("trust a release", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Release with UKI %x is trusted.\nAttestation: %s\n", uki, policyText(res.GetAttestationPolicy(), "\n             "))
			return nil
		},
	}
}
