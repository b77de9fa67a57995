package tpm

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestPCRReadValues(t *testing.T) {
	value := func(b byte) tpm2.TPM2BDigest { return tpm2.TPM2BDigest{Buffer: bytes.Repeat([]byte{b}, sha256.Size)} }
	response := func(sel tpm2.TPMLPCRSelection, values ...tpm2.TPM2BDigest) *tpm2.PCRReadResponse {
		return &tpm2.PCRReadResponse{PCRSelectionOut: sel, PCRValues: tpm2.TPMLDigest{Digests: values}}
	}
	sha1 := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash: tpm2.TPMAlgSHA1, PCRSelect: tpm2.PCClientCompatible.PCRs(0),
	}}}
	asked := pcrMask([]uint{0, 2, 4, 7, 9})
	for _, tc := range []struct {
		name string
		rsp  *tpm2.PCRReadResponse
		want string // empty: accepted
	}{
		{"all", response(pcrSelection(asked), value(0), value(2), value(4), value(7), value(9)), ""},
		{"some", response(pcrSelection(pcrMask([]uint{2, 9})), value(2), value(9)), ""},
		{"none", response(tpm2.TPMLPCRSelection{}), "no SHA-256 values"},
		{"other bank", response(sha1, value(0)), "PCR bank 0x0004, not SHA-256"},
		{"fewer values than PCRs", response(pcrSelection(pcrMask([]uint{2, 9})), value(2)), "1 values for 2 PCRs"},
		{"not asked for", response(pcrSelection(pcrMask([]uint{3})), value(3)), "PCR 3, which was not asked for"},
		{"short value", response(pcrSelection(pcrMask([]uint{2})), tpm2.TPM2BDigest{Buffer: []byte{1}}), "1 bytes for SHA-256 PCR 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pcrReadValues(tc.rsp, asked)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("pcrReadValues = %v, want an error saying %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("pcrReadValues: %v", err)
			}
			if len(got) != len(tc.rsp.PCRValues.Digests) {
				t.Errorf("pcrReadValues returned %d values, want %d", len(got), len(tc.rsp.PCRValues.Digests))
			}
			for p, v := range got {
				if v[0] != byte(p) {
					t.Errorf("PCR %d got the value of PCR %d", p, v[0])
				}
			}
		})
	}
}
