package tpm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// extended returns chain with PCR index extended by data, as ExtendPCR would extend it.
func extended(chain PCRValues, index uint, data []byte) PCRValues {
	out := maps.Clone(chain)
	measured := sha256.Sum256(data)
	v := sha256.Sum256(append(bytes.Clone(chain[index]), measured[:]...))
	out[index] = v[:]
	return out
}

// TestSealToCurrentAndNext seals to the running boot chain and one whose PCR 4 has one more
// measurement, then makes the TPM's PCR 4 take that measurement: the blob unseals before and
// after, and no longer after a further one.
func TestSealToCurrentAndNext(t *testing.T) {
	tp := startSWTPM(t)
	extendBootPCRs(t, tp)
	current, err := tp.ReadPCRs(BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	next := extended(current, 4, []byte("the new UKI"))
	blob, err := tp.SealTo(payload, []PCRValues{current, next})
	if err != nil {
		t.Fatalf("SealTo: %v", err)
	}
	unseal := func(state string) {
		t.Helper()
		got, err := tp.Unseal(blob)
		if err != nil {
			t.Fatalf("Unseal %s: %v", state, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("Unseal %s returned other data", state)
		}
	}
	unseal("in the boot chain sealed under")
	if err := tp.ExtendPCR(4, []byte("the new UKI")); err != nil {
		t.Fatal(err)
	}
	if now, _ := tp.ReadPCR(4); !bytes.Equal(now, next[4]) {
		t.Fatalf("PCR 4 is %x, the test predicted %x", now, next[4])
	}
	unseal("in the other boot chain")
	if err := tp.ExtendPCR(4, []byte("yet another UKI")); err != nil {
		t.Fatal(err)
	}
	// Several times: a refused PolicyOR must not leave its session loaded in the TPM, which
	// holds only a few (swtpm: 3).
	for range 5 {
		_, err = tp.Unseal(blob)
		if !errors.Is(err, ErrBootChanged) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrDifferentTPM) {
			t.Fatalf("Unseal in neither boot chain = %v, want ErrBootChanged", err)
		}
	}
	t.Logf("in neither boot chain: %v", err)
	if !strings.Contains(err.Error(), "PCRs 0,2,4,7,12 match none of the 2 boot chains") {
		t.Errorf("error %q does not name the PCRs and boot chains", err)
	}
}

// TestSealToOneChain checks that sealing to the current boot chain alone gives the sealed
// object the policy the TPM computes for PolicyPCR over the boot PCRs, as Seal always did.
func TestSealToOneChain(t *testing.T) {
	tp := startSWTPM(t)
	extendBootPCRs(t, tp)
	current, err := tp.ReadPCRs(BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := tp.SealTo(payload, []PCRValues{current})
	if err != nil {
		t.Fatalf("SealTo: %v", err)
	}
	b, _, err := decodeBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	public, _, err := b.sealedObject()
	if err != nil {
		t.Fatal(err)
	}
	contents, err := public.Contents()
	if err != nil {
		t.Fatal(err)
	}
	want := trialPolicyDigest(t, tp, pcrSelection(pcrMask(BootPCRs)), nil)
	if !bytes.Equal(contents.AuthPolicy.Buffer, want) {
		t.Errorf("sealed object's policy is %x, the TPM's PolicyPCR gives %x", contents.AuthPolicy.Buffer, want)
	}
	if len(b.branches) != 1 || !bytes.Equal(b.branches[0], want) {
		t.Errorf("blob records boot chain digests %x, want just %x", b.branches, want)
	}
	for range 5 {
		if err := tp.ExtendPCR(7, []byte("Secure Boot off")); err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Unseal(blob); !errors.Is(err, ErrBootChanged) {
			t.Fatalf("Unseal after extending PCR 7 = %v, want ErrBootChanged", err)
		}
	}
}

func TestSealToRefusesChains(t *testing.T) {
	tp := startSWTPM(t)
	current, err := tp.ReadPCRs(BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	missing := maps.Clone(current)
	delete(missing, 4)
	short := maps.Clone(current)
	short[0] = short[0][:20]
	for _, tc := range []struct {
		name   string
		chains []PCRValues
		want   string
	}{
		{"missing PCR", []PCRValues{current, missing}, "boot chain 1: no value for PCR 4"},
		{"wrong length", []PCRValues{short}, "PCR 0's value is 20 bytes"},
		{"nine chains", slices.Repeat([]PCRValues{current}, 9), "9 boot chains to seal to, at most 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tp.SealTo(payload, tc.chains)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SealTo = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if _, err := tp.SealTo(make([]byte, MaxPayload+1), []PCRValues{current}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("SealTo(%d bytes) = %v, want ErrTooLarge", MaxPayload+1, err)
	}
}

// TestUnsealVersion1 seals a blob in the version 1 format, as written before boot chain
// digests were recorded, and unseals it.
func TestUnsealVersion1(t *testing.T) {
	tp := startSWTPM(t)
	current, err := tp.ReadPCRs(BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := PolicyPCRDigest(current, BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := tp.seal(payload, policy, &sealedBlob{
		version: blobVersionSingle,
		pcrBank: uint16(tpm2.TPMAlgSHA256),
		pcrMask: pcrMask(BootPCRs),
	})
	if err != nil {
		t.Fatalf("seal (version 1): %v", err)
	}
	if blob[len(blobMagic)] != 1 {
		t.Fatalf("blob is version %d, want 1", blob[len(blobMagic)])
	}
	got, err := tp.Unseal(blob)
	if err != nil {
		t.Fatalf("Unseal (version 1): %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("Unseal (version 1) returned other data")
	}
	if err := tp.ExtendPCR(4, []byte("another boot loader")); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Unseal(blob); !errors.Is(err, ErrBootChanged) {
		t.Errorf("Unseal (version 1) after extending PCR 4 = %v, want ErrBootChanged", err)
	}
}

// TestUnsealForeignBranches swaps a boot chain digest of a blob (keeping its checksum right):
// the list no longer gives the sealed object's policy, which is damage, not a boot change.
func TestUnsealForeignBranches(t *testing.T) {
	tp := startSWTPM(t)
	current, err := tp.ReadPCRs(BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := tp.SealTo(payload, []PCRValues{current, extended(current, 4, []byte("next"))})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := decodeBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	b.branches[1] = bytes.Repeat([]byte{0xaa}, sha256.Size)
	_, err = tp.Unseal(b.encode())
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "do not give the sealed object's policy") {
		t.Fatalf("Unseal with a swapped boot chain digest = %v, want ErrDamaged naming the policy", err)
	}
}
