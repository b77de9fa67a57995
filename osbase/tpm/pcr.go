package tpm

import (
	"crypto/sha256"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// pcrCount is the number of PCRs a PC client TPM has.
const pcrCount = 24

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
	if index >= pcrCount {
		return nil, fmt.Errorf("PCR %d does not exist (a PC client TPM has PCRs 0 to %d)", index, pcrCount-1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rsp, err := tpm2.PCRRead{PCRSelectionIn: pcrSelection(1 << index)}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("TPM: read PCR %d: %w", index, err)
	}
	if len(rsp.PCRValues.Digests) != 1 {
		return nil, fmt.Errorf("TPM: read PCR %d: the TPM returned %d values (is the SHA-256 bank active?)", index, len(rsp.PCRValues.Digests))
	}
	return rsp.PCRValues.Digests[0].Buffer, nil
}
