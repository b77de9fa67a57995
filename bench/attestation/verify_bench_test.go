package attestation_bench

import (
	"encoding/json"
	"os"
	"testing"

	"metropolis.dev/metropolis/node/attestation"
	"metropolis.dev/metropolis/osbase/tpm"
)

// transcript is node/attestation's recorded attestation (testdata/transcript.json there).
type transcript struct {
	AKPublic []byte
	Nonce    []byte
	Evidence *tpm.Evidence
	UKI      []byte
	Firmware map[int][]byte
}

func readTranscript(b *testing.B) *transcript {
	data, err := os.ReadFile("../../node/attestation/testdata/transcript.json")
	if err != nil {
		b.Fatal(err)
	}
	var tr transcript
	if err := json.Unmarshal(data, &tr); err != nil {
		b.Fatal(err)
	}
	return &tr
}

// BenchmarkVerifyJoin is the curator's CPU per join of a node that attests.
func BenchmarkVerifyJoin(b *testing.B) {
	tr := readTranscript(b)
	want := attestation.Expectation{Nonce: tr.Nonce, Releases: [][]byte{tr.UKI}, Firmware: tr.Firmware}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attestation.Verify(tr.AKPublic, tr.Evidence, want); err != nil {
			b.Fatal(err)
		}
	}
}
