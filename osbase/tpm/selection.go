package tpm

import (
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// pcrMask turns PCR indices (below 32) into a bit mask.
func pcrMask(pcrs []uint) uint32 {
	var mask uint32
	for _, p := range pcrs {
		mask |= 1 << p
	}
	return mask
}

// pcrIndices lists the PCRs set in mask, in ascending order.
func pcrIndices(mask uint32) []uint {
	var out []uint
	for i := uint(0); i < 32; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// pcrList formats mask as "0,2,4,7".
func pcrList(mask uint32) string {
	var parts []string
	for _, p := range pcrIndices(mask) {
		parts = append(parts, strconv.FormatUint(uint64(p), 10))
	}
	return strings.Join(parts, ",")
}

// pcrSelection is the SHA-256 bank's PCRs in mask as a TPML_PCR_SELECTION, the form used
// both to talk to the TPM and in the PolicyPCR digest.
func pcrSelection(mask uint32) tpm2.TPMLPCRSelection {
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(pcrIndices(mask)...),
	}}}
}
