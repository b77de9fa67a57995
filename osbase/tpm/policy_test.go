package tpm

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"slices"
	"strings"
	"testing"
)

// exampleChain is a boot chain with made-up values for BootPCRs.
func exampleChain(seed byte) PCRValues {
	c := PCRValues{}
	for _, p := range BootPCRs {
		c[p] = bytes.Repeat([]byte{seed + byte(p)}, sha256.Size)
	}
	return c
}

func TestPolicyPCRDigestErrors(t *testing.T) {
	short := exampleChain(1)
	short[4] = short[4][:20]
	for _, tc := range []struct {
		name   string
		values PCRValues
		pcrs   []uint
		want   string
	}{
		{"no PCRs", exampleChain(1), nil, "no PCRs"},
		{"PCR out of range", exampleChain(1), []uint{0, 24}, "PCR 24 does not exist"},
		{"missing value", exampleChain(1), []uint{0, 9}, "no value for PCR 9"},
		{"short value", short, BootPCRs, "PCR 4's value is 20 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PolicyPCRDigest(tc.values, tc.pcrs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PolicyPCRDigest = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestPolicyPCRDigestSelection checks that the digest depends on the set of PCRs selected and
// their values only: not on the order they are listed in, nor on values not selected.
func TestPolicyPCRDigestSelection(t *testing.T) {
	c := exampleChain(1)
	want, err := PolicyPCRDigest(c, BootPCRs)
	if err != nil {
		t.Fatal(err)
	}
	more := maps.Clone(c)
	more[9] = make([]byte, sha256.Size)
	for _, tc := range []struct {
		name   string
		values PCRValues
		pcrs   []uint
	}{
		{"reordered", c, []uint{12, 7, 4, 2, 0}},
		{"repeated", c, []uint{0, 2, 2, 4, 7, 12}},
		{"unselected value", more, BootPCRs},
	} {
		got, err := PolicyPCRDigest(tc.values, tc.pcrs)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: PolicyPCRDigest = %x, %v, want %x", tc.name, got, err, want)
		}
	}
	other := maps.Clone(c)
	other[4] = bytes.Repeat([]byte{0xff}, sha256.Size)
	if got, _ := PolicyPCRDigest(other, BootPCRs); bytes.Equal(got, want) {
		t.Errorf("PolicyPCRDigest does not change with PCR 4")
	}
	if got, _ := PolicyPCRDigest(c, []uint{0, 2, 4}); bytes.Equal(got, want) {
		t.Errorf("PolicyPCRDigest does not change with the selection")
	}
}

func TestPolicyORDigestErrors(t *testing.T) {
	d := bytes.Repeat([]byte{1}, sha256.Size)
	for _, tc := range []struct {
		name     string
		branches [][]byte
		want     string
	}{
		{"none", nil, "0 branches for PolicyOR, a TPM takes 2 to 8"},
		{"one", [][]byte{d}, "1 branches"},
		{"nine", slices.Repeat([][]byte{d}, 9), "9 branches"},
		{"short branch", [][]byte{d, d[:31]}, "branch 1 is 31 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PolicyORDigest(tc.branches)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PolicyORDigest = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestSealPolicy(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, sha256.Size), bytes.Repeat([]byte{2}, sha256.Size)
	if got, err := sealPolicy([][]byte{a}); err != nil || !bytes.Equal(got, a) {
		t.Errorf("sealPolicy(one branch) = %x, %v, want the branch %x", got, err, a)
	}
	want, err := PolicyORDigest([][]byte{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sealPolicy([][]byte{a, b}); err != nil || !bytes.Equal(got, want) {
		t.Errorf("sealPolicy(two branches) = %x, %v, want their PolicyOR %x", got, err, want)
	}
	for _, bad := range [][][]byte{nil, {a[:5]}, slices.Repeat([][]byte{a}, 9)} {
		if got, err := sealPolicy(bad); err == nil {
			t.Errorf("sealPolicy(%d branches) = %x, want an error", len(bad), got)
		}
	}
}

func TestChainBranches(t *testing.T) {
	missing := exampleChain(1)
	delete(missing, 7)
	short := exampleChain(1)
	short[2] = short[2][:20]
	extra := exampleChain(1)
	extra[9] = make([]byte, sha256.Size)
	for _, tc := range []struct {
		name   string
		chains []PCRValues
		want   string // empty: accepted
	}{
		{"one chain", []PCRValues{exampleChain(1)}, ""},
		{"eight chains", slices.Repeat([]PCRValues{exampleChain(1)}, 8), ""},
		{"no chain", nil, "no boot chain to seal to"},
		{"nine chains", slices.Repeat([]PCRValues{exampleChain(1)}, 9), "9 boot chains to seal to, at most 8"},
		{"missing PCR", []PCRValues{exampleChain(1), missing}, "boot chain 1: no value for PCR 7 (a boot chain holds SHA-256 PCRs 0,2,4,7,12)"},
		{"short value", []PCRValues{short}, "boot chain 0: PCR 2's value is 20 bytes, a SHA-256 PCR holds 32"},
		{"extra PCR", []PCRValues{extra}, "boot chain 0: PCR 9 is not one of a boot chain's SHA-256 PCRs 0,2,4,7,12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			branches, err := chainBranches(tc.chains)
			if tc.want == "" {
				if err != nil || len(branches) != len(tc.chains) {
					t.Fatalf("chainBranches = %d branches, %v, want %d", len(branches), err, len(tc.chains))
				}
				want, _ := PolicyPCRDigest(tc.chains[0], BootPCRs)
				if !bytes.Equal(branches[0], want) {
					t.Errorf("branch 0 is %x, want the chain's PolicyPCR digest %x", branches[0], want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("chainBranches = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
