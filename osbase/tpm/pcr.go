package tpm

import (
	"crypto/sha256"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// pcrCount is the number of PCRs a PC client TPM has.
const pcrCount = 24

// PCRValues are SHA-256 PCR values by PCR index: what the TPM holds now (ReadPCRs) or what it
// is predicted to hold after a boot (PredictBootChain).
type PCRValues map[uint][]byte

// ExtendPCR measures data into PCR index of the SHA-256 bank: the PCR becomes
// SHA-256(old || SHA-256(data)). Other banks are left as they are, so use this only for PCRs
// whose other banks nobody relies on.
func (t *TPM) ExtendPCR(index uint, data []byte) error {
	if index >= pcrCount {
		return fmt.Errorf("PCR %d does not exist (a PC client TPM has PCRs 0 to %d)", index, pcrCount-1)
	}
	digest := sha256.Sum256(data)
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(index), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256,
			Digest:  digest[:],
		}}},
	}.Execute(t.t)
	if err != nil {
		return fmt.Errorf("TPM: extend PCR %d: %w", index, err)
	}
	return nil
}

// ReadPCR returns the SHA-256 bank's value of PCR index.
func (t *TPM) ReadPCR(index uint) ([]byte, error) {
	values, err := t.ReadPCRs([]uint{index})
	if err != nil {
		return nil, err
	}
	return values[index], nil
}

// ReadPCRs returns the SHA-256 bank's values of pcrs. A TPM returns at most 8 PCRs per
// TPM2_PCRRead (and may return fewer), so it asks again for the rest until it has them all.
func (t *TPM) ReadPCRs(pcrs []uint) (PCRValues, error) {
	for _, p := range pcrs {
		if p >= pcrCount {
			return nil, fmt.Errorf("PCR %d does not exist (a PC client TPM has PCRs 0 to %d)", p, pcrCount-1)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	values := make(PCRValues, len(pcrs))
	for remaining := pcrMask(pcrs); remaining != 0; {
		rsp, err := tpm2.PCRRead{PCRSelectionIn: pcrSelection(remaining)}.Execute(t.t)
		if err != nil {
			return nil, fmt.Errorf("TPM: read PCRs %s: %w", pcrList(remaining), err)
		}
		read, err := pcrReadValues(rsp, remaining)
		if err != nil {
			return nil, fmt.Errorf("TPM: read PCRs %s: %w", pcrList(remaining), err)
		}
		for p, v := range read {
			values[p] = v
			remaining &^= 1 << p
		}
	}
	return values, nil
}

// pcrReadValues pairs a TPM2_PCRRead response's values with the PCRs it says they are, in
// ascending order. It accepts only SHA-256 values of PCRs in asked, and at least one of them,
// so that ReadPCRs' loop makes progress.
func pcrReadValues(rsp *tpm2.PCRReadResponse, asked uint32) (PCRValues, error) {
	var got []uint
	for _, sel := range rsp.PCRSelectionOut.PCRSelections {
		for i, bits := range sel.PCRSelect {
			for j := uint(0); j < 8; j++ {
				if bits&(1<<j) == 0 {
					continue
				}
				// Only SHA-256 was asked for; values of another bank would also shift the
				// pairing of values with PCRs.
				if sel.Hash != tpm2.TPMAlgSHA256 {
					return nil, fmt.Errorf("the TPM returned values of PCR bank 0x%04x, not SHA-256", uint16(sel.Hash))
				}
				got = append(got, uint(i)*8+j)
			}
		}
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("the TPM returned no SHA-256 values (is the SHA-256 bank active?)")
	}
	if len(got) != len(rsp.PCRValues.Digests) {
		return nil, fmt.Errorf("the TPM returned %d values for %d PCRs", len(rsp.PCRValues.Digests), len(got))
	}
	out := make(PCRValues, len(got))
	for i, p := range got {
		if p >= 32 || asked&(1<<p) == 0 {
			return nil, fmt.Errorf("the TPM returned PCR %d, which was not asked for", p)
		}
		v := rsp.PCRValues.Digests[i].Buffer
		if len(v) != sha256.Size {
			return nil, fmt.Errorf("the TPM returned %d bytes for SHA-256 PCR %d", len(v), p)
		}
		out[p] = v
	}
	return out, nil
}
