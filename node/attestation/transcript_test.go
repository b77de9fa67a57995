package attestation

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"metropolis.dev/metropolis/osbase/tpm"
	"metropolis.dev/metropolis/osbase/tpm/attesttest"
	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

var record = flag.Bool("record", false, "record testdata/transcript.json from a software TPM")

const transcriptFile = "testdata/transcript.json"

// TestRecordedTranscript verifies a recorded attestation without a TPM, as a verifier that
// sees it later would: accepted with the nonce it answered, refused as a replay with any other,
// and refused when its release or firmware is not the one trusted. Record it again with
// `go test -run TestRecordedTranscript -record ./node/attestation` (needs swtpm).
func TestRecordedTranscript(t *testing.T) {
	if *record {
		m := attesttest.New(t, nil, "recorded firmware", "recorded UKI")
		nonce := []byte("recorded nonce, 32 bytes long...")
		ev, err := m.Attestor.Quote(m.AK, nonce)
		if err != nil {
			t.Fatal(err)
		}
		tr := attesttest.Transcript{AKPublic: m.AKParams.Public, Nonce: nonce, Evidence: ev, UKI: tpmtest.Digest("recorded UKI")}
		got, err := Verify(tr.AKPublic, ev, Expectation{Nonce: nonce, Releases: [][]byte{tr.UKI}})
		if err != nil {
			t.Fatal(err)
		}
		tr.Firmware = got.Firmware
		data, err := json.MarshalIndent(tr, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.FromSlash(transcriptFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr := readTranscript(t)
	want := Expectation{Nonce: tr.Nonce, Releases: [][]byte{tr.UKI}, Firmware: tr.Firmware}
	got, err := Verify(tr.AKPublic, tr.Evidence, want)
	if err != nil {
		t.Fatalf("the recorded attestation: %v", err)
	}
	if !bytes.Equal(got.UKI, tr.UKI) {
		t.Errorf("measured UKI %x, recorded %x", got.UKI, tr.UKI)
	}
	replay := want
	replay.Nonce = []byte("this join's own nonce, 32 bytes.")
	_, err = Verify(tr.AKPublic, tr.Evidence, replay)
	wantRefusal(t, err, "replayed quote")
	untrusted := want
	untrusted.Releases = [][]byte{tpmtest.Digest("another UKI")}
	_, err = Verify(tr.AKPublic, tr.Evidence, untrusted)
	wantRefusal(t, err, "untrusted release")
}

func readTranscript(t testing.TB) *attesttest.Transcript {
	return attesttest.ReadTranscript(t, filepath.FromSlash(transcriptFile))
}

// FuzzVerify feeds Verify mangled quotes, signatures and event logs: it must refuse them,
// never panic, and never accept anything but the recorded evidence.
func FuzzVerify(f *testing.F) {
	tr := readTranscript(f)
	f.Add(tr.Evidence.Quote, tr.Evidence.Signature, tr.Evidence.EventLog)
	f.Fuzz(func(t *testing.T, quote, sig, log []byte) {
		ev := &tpm.Evidence{Quote: quote, Signature: sig, EventLog: log, PCRs: tr.Evidence.PCRs}
		_, err := Verify(tr.AKPublic, ev, Expectation{Nonce: tr.Nonce, Releases: [][]byte{tr.UKI}, Firmware: tr.Firmware})
		// Another log that replays to the same PCRs with the same first application may pass;
		// a quote or signature that is not the TPM's may not.
		if err == nil && (!bytes.Equal(quote, tr.Evidence.Quote) || !bytes.Equal(sig, tr.Evidence.Signature)) {
			t.Fatalf("accepted a quote or signature that is not the TPM's")
		}
	})
}
