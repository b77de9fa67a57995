package tpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/google/go-tpm/tpm2"
)

// maxBranches is the most digests TPM2_PolicyOR takes (TPML_DIGEST in PolicyOR holds 2 to 8),
// hence the most boot chains a blob can be sealed to.
const maxBranches = 8

// PolicyPCRDigest returns the policy digest TPM2_PolicyPCR over the SHA-256 bank's pcrs (in
// any order) gives, starting from a fresh SHA-256 policy session, when the PCRs hold values.
// It is what the TPM computes, done in software so that a blob can be sealed to PCR values the
// TPM does not hold now (a predicted boot chain):
//
//	SHA-256(zeros(32) || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || pcrDigest)
//
// where pcrDigest is SHA-256 of the selected values concatenated in ascending PCR order.
func PolicyPCRDigest(values PCRValues, pcrs []uint) ([]byte, error) {
	if len(pcrs) == 0 {
		return nil, fmt.Errorf("no PCRs for a PCR policy")
	}
	for _, p := range pcrs {
		if p >= pcrCount {
			return nil, fmt.Errorf("PCR %d does not exist (a PC client TPM has PCRs 0 to %d)", p, pcrCount-1)
		}
	}
	mask := pcrMask(pcrs)
	pcrDigest := sha256.New()
	for _, p := range pcrIndices(mask) {
		v, ok := values[p]
		if !ok {
			return nil, fmt.Errorf("no value for PCR %d", p)
		}
		if len(v) != sha256.Size {
			return nil, fmt.Errorf("PCR %d's value is %d bytes, a SHA-256 PCR holds %d", p, len(v), sha256.Size)
		}
		pcrDigest.Write(v)
	}
	// The selection is marshalled by go-tpm as it is sent to the TPM, which hashes those bytes.
	return policyUpdate(tpm2.TPMCCPolicyPCR, tpm2.Marshal(pcrSelection(mask)), pcrDigest.Sum(nil)), nil
}

// PolicyORDigest returns the policy digest TPM2_PolicyOR over branches (2 to 8 SHA-256 policy
// digests, in the order given to the TPM) gives:
//
//	SHA-256(zeros(32) || TPM_CC_PolicyOR || branch1 || branch2 ...)
//
// PolicyOR resets the digest before it hashes, so the result does not depend on the policy
// before it; in the session, though, it succeeds only if that policy is one of the branches.
func PolicyORDigest(branches [][]byte) ([]byte, error) {
	if len(branches) < 2 || len(branches) > maxBranches {
		return nil, fmt.Errorf("%d branches for PolicyOR, a TPM takes 2 to %d", len(branches), maxBranches)
	}
	var all bytes.Buffer
	for i, b := range branches {
		if len(b) != sha256.Size {
			return nil, fmt.Errorf("PolicyOR branch %d is %d bytes, want a %d-byte SHA-256 policy digest", i, len(b), sha256.Size)
		}
		all.Write(b)
	}
	return policyUpdate(tpm2.TPMCCPolicyOR, all.Bytes()), nil
}

// policyUpdate extends a fresh (all-zero) SHA-256 policy digest with command code cc and its
// parameters, as the TPM does.
func policyUpdate(cc tpm2.TPMCC, params ...[]byte) []byte {
	h := sha256.New()
	h.Write(make([]byte, sha256.Size))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(cc)))
	for _, p := range params {
		h.Write(p)
	}
	return h.Sum(nil)
}

// sealPolicy is the sealed object's authorization policy for branches, the PolicyPCR digests
// of the boot chains it is sealed to: the one digest, or PolicyOR of them all.
func sealPolicy(branches [][]byte) ([]byte, error) {
	if len(branches) != 1 {
		return PolicyORDigest(branches)
	}
	if len(branches[0]) != sha256.Size {
		return nil, fmt.Errorf("policy digest is %d bytes, want %d", len(branches[0]), sha256.Size)
	}
	return bytes.Clone(branches[0]), nil
}

// chainBranches checks that each chain holds exactly the BootPCRs' SHA-256 values and returns
// their PolicyPCR digests, in order.
func chainBranches(chains []PCRValues) ([][]byte, error) {
	if len(chains) == 0 {
		return nil, fmt.Errorf("no boot chain to seal to")
	}
	if len(chains) > maxBranches {
		return nil, fmt.Errorf("%d boot chains to seal to, at most %d (the TPM's PolicyOR limit)", len(chains), maxBranches)
	}
	branches := make([][]byte, len(chains))
	for i, c := range chains {
		if err := checkChain(c); err != nil {
			return nil, fmt.Errorf("boot chain %d: %w", i, err)
		}
		d, err := PolicyPCRDigest(c, BootPCRs)
		if err != nil {
			return nil, fmt.Errorf("boot chain %d: %w", i, err)
		}
		branches[i] = d
	}
	return branches, nil
}

// checkChain checks that c holds the SHA-256 values of exactly the BootPCRs.
func checkChain(c PCRValues) error {
	want := pcrMask(BootPCRs)
	for _, p := range slices.Sorted(maps.Keys(c)) {
		if p >= 32 || want&(1<<p) == 0 {
			return fmt.Errorf("PCR %d is not one of a boot chain's SHA-256 PCRs %s", p, pcrList(want))
		}
		if v := c[p]; len(v) != sha256.Size {
			return fmt.Errorf("PCR %d's value is %d bytes, a SHA-256 PCR holds %d", p, len(v), sha256.Size)
		}
	}
	for _, p := range BootPCRs {
		if _, ok := c[p]; !ok {
			return fmt.Errorf("no value for PCR %d (a boot chain holds SHA-256 PCRs %s)", p, pcrList(want))
		}
	}
	return nil
}
