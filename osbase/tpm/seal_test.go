package tpm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

// payload is about the size of the node's sealed record.
var payload = bytes.Repeat([]byte("sealed node record "), 20)

func TestSealUnsealRoundTrip(t *testing.T) {
	tp := startSWTPM(t)
	for _, size := range []int{0, 1, 128, len(payload), MaxPayload} {
		data := bytes.Repeat([]byte{0xa5}, size)
		blob, err := tp.Seal(data)
		if err != nil {
			t.Fatalf("Seal(%d bytes): %v", size, err)
		}
		if size >= 16 && bytes.Contains(blob, data) {
			t.Errorf("the sealed blob of %d bytes holds them in the clear", size)
		}
		got, err := tp.Unseal(blob)
		if err != nil {
			t.Fatalf("Unseal(%d bytes): %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("Unseal(%d bytes) returned %d different bytes", size, len(got))
		}
	}
}

// TestUnsealAfterReboot restarts the TPM on its state: PCRs start over from the same values,
// so a blob sealed before unseals after, until a covered PCR is extended differently.
func TestUnsealAfterReboot(t *testing.T) {
	state := tpmtest.TempDir(t)
	tp, stop := startSWTPMWithState(t, state)
	blob, err := tp.Seal(payload)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	stop()
	tp, _ = startSWTPMWithState(t, state)
	got, err := tp.Unseal(blob)
	if err != nil {
		t.Fatalf("Unseal after reboot: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("Unseal after reboot returned other data")
	}
}

func TestSealTooLarge(t *testing.T) {
	tp := startSWTPM(t)
	if _, err := tp.Seal(make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Seal(%d bytes) = %v, want ErrTooLarge", MaxPayload+1, err)
	}
}

func TestUnsealAfterBootChange(t *testing.T) {
	for _, pcr := range []uint{4, 7} {
		tp := startSWTPM(t)
		blob, err := tp.Seal(payload)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		// A PCR outside the policy does not matter.
		if err := tp.ExtendPCR(9, []byte("something else")); err != nil {
			t.Fatalf("ExtendPCR(9): %v", err)
		}
		if _, err := tp.Unseal(blob); err != nil {
			t.Fatalf("Unseal after extending PCR 9 (not in the policy): %v", err)
		}
		before, err := tp.ReadPCR(pcr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.ExtendPCR(pcr, []byte("another boot loader")); err != nil {
			t.Fatalf("ExtendPCR(%d): %v", pcr, err)
		}
		after, err := tp.ReadPCR(pcr)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(before, after) {
			t.Fatalf("PCR %d did not change when extended", pcr)
		}
		_, err = tp.Unseal(blob)
		if !errors.Is(err, ErrBootChanged) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrDifferentTPM) {
			t.Fatalf("Unseal after extending PCR %d = %v, want ErrBootChanged", pcr, err)
		}
		t.Logf("after extending PCR %d: %v", pcr, err)
		if !strings.Contains(err.Error(), "PCRs 0,2,4,7,12") {
			t.Errorf("error %q does not name the PCRs", err)
		}
	}
}

func TestUnsealOnAnotherTPM(t *testing.T) {
	blob, err := startSWTPM(t).Seal(payload)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	_, err = startSWTPM(t).Unseal(blob)
	if !errors.Is(err, ErrDifferentTPM) || errors.Is(err, ErrBootChanged) || errors.Is(err, ErrDamaged) {
		t.Fatalf("Unseal on another TPM = %v, want ErrDifferentTPM", err)
	}
	t.Logf("on another TPM: %v", err)
}

func TestUnsealDamaged(t *testing.T) {
	tp := startSWTPM(t)
	blob, err := tp.Seal(payload)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	flipped := bytes.Clone(blob)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name string
		blob []byte
		want string
	}{
		{"empty", nil, "does not start with"},
		{"garbage", []byte("this is not a sealed blob at all, just text"), "does not start with"},
		{"truncated", blob[:len(blob)-1], "checksum mismatch"},
		{"one bit flipped", flipped, "checksum mismatch"},
		{"appended", append(bytes.Clone(blob), 0), "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tp.Unseal(tc.blob)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Unseal = %v, want ErrDamaged", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestUnsealForeignObject checks the TPM's own refusal: a blob claiming this TPM's storage
// root key but holding another TPM's object (which the key-name check would otherwise catch
// first) fails to load, and is reported as sealed to a different TPM.
func TestUnsealForeignObject(t *testing.T) {
	blob, err := startSWTPM(t).Seal(payload)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	other := startSWTPM(t)
	s, err := createSRK(other.t)
	if err != nil {
		t.Fatal(err)
	}
	s.flush(other.t)
	b, _, err := decodeBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	b.srkName = s.name.Buffer
	_, err = other.Unseal(b.encode())
	if !errors.Is(err, ErrDifferentTPM) {
		t.Fatalf("Unseal of another TPM's object = %v, want ErrDifferentTPM", err)
	}
	t.Logf("another TPM's object: %v", err)
}
