package attestation_bench

import (
	"testing"

	"metropolis.dev/metropolis/node/attestation"
	"metropolis.dev/metropolis/osbase/tpm/attesttest"
)

// BenchmarkVerifyJoin is the curator's CPU per join of a node that attests.
func BenchmarkVerifyJoin(b *testing.B) {
	tr := attesttest.ReadTranscript(b, "../../node/attestation/testdata/transcript.json")
	want := attestation.Expectation{Nonce: tr.Nonce, Releases: [][]byte{tr.UKI}, Firmware: tr.Firmware}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attestation.Verify(tr.AKPublic, tr.Evidence, want); err != nil {
			b.Fatal(err)
		}
	}
}
