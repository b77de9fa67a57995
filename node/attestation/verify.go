package attestation

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"metropolis.dev/metropolis/osbase/tpm"
)

// bootLoaderPCR holds the measurements of the UEFI applications the firmware starts; every
// other quoted PCR is the firmware's and the platform's own.
const bootLoaderPCR = 4

// FirmwarePCRs are the quoted PCRs that must stay as they were when a node was first attested:
// the firmware's code (0), option ROMs' code (2) and the Secure Boot state (7), the PCRs the
// node's storage key is sealed to besides the boot loader's. The other quoted PCRs change
// legitimately and are only checked against the event log: 1 (the platform's configuration,
// including the boot variables an update sets), 3 (option ROMs' configuration), 5 (the GPT,
// which the node extends with its data partition at its first start) and 6 (platform events).
var FirmwarePCRs = []int{0, 2, 7}

// evEFIBootServicesApplication is the event of a UEFI application's measurement: its
// Authenticode hash.
const evEFIBootServicesApplication = attest.EventType(0x80000003)

// Expectation is what a boot must show.
type Expectation struct {
	// Nonce is the fresh nonce the verifier sent for this quote.
	Nonce []byte
	// Releases are the trusted releases' UKI Authenticode hashes (Policy.Releases).
	Releases [][]byte
	// AnyRelease accepts whatever release the boot shows: only for a cluster's first node,
	// which attests itself when it creates the cluster and whose release the cluster then
	// trusts.
	AnyRelease bool
	// Firmware are the node's firmware measurements taken when it was first attested; nil
	// when this is that first attestation.
	Firmware map[int][]byte
}

// Measurements is what a verified boot showed.
type Measurements struct {
	// UKI is the Authenticode hash of the first UEFI application the firmware started.
	UKI []byte
	// Firmware are the values of FirmwarePCRs.
	Firmware map[int][]byte
}

// Verify checks the evidence ev of a boot, quoted by the attestation key akPublic (its
// TPMT_PUBLIC, from the AK's attestation parameters, proven to live in the node's TPM), against
// want, and returns what the boot measured. See the package documentation for the checks.
func Verify(akPublic []byte, ev *tpm.Evidence, want Expectation) (*Measurements, error) {
	ak, err := attest.ParseAKPublic(akPublic)
	if err != nil {
		return nil, refuse("AK not usable: %.200v", err)
	}
	if ev == nil {
		return nil, refuse("no quote")
	}
	att, err := tpm2.DecodeAttestationData(ev.Quote)
	if err != nil {
		return nil, refuse("quote does not parse: %.200v", err)
	}
	if att.Type != tpm2.TagAttestQuote {
		return nil, refuse("quote is not a quote (type %#x)", att.Type)
	}
	if len(want.Nonce) == 0 || !bytes.Equal(att.ExtraData, want.Nonce) {
		return nil, refuse("replayed quote: it answers nonce %s, not the nonce %s sent for this attestation", shortHex(att.ExtraData), shortHex(want.Nonce))
	}
	var pcrs []attest.PCR
	for _, i := range tpm.QuotedPCRs {
		d, ok := ev.PCRs[i]
		if !ok || len(d) != sha256.Size {
			return nil, refuse("quote lacks the SHA-256 value of PCR %d", i)
		}
		pcrs = append(pcrs, attest.PCR{Index: i, Digest: d, DigestAlg: crypto.SHA256})
	}
	if err := ak.Verify(attest.Quote{Quote: ev.Quote, Signature: ev.Signature}, pcrs, want.Nonce); err != nil {
		return nil, refuse("quote does not verify with the node's AK: %.200v", err)
	}
	for _, p := range pcrs {
		if !p.QuoteVerified() {
			return nil, refuse("quote does not cover PCR %d", p.Index)
		}
	}
	log, err := attest.ParseEventLog(ev.EventLog)
	if err != nil {
		return nil, refuse("event log does not parse: %.200v", err)
	}
	events, err := log.Verify(pcrs)
	if err != nil {
		return nil, refuse("event log does not replay to the quoted PCRs: %.200v", err)
	}
	m := &Measurements{Firmware: map[int][]byte{}}
	for _, e := range events {
		if e.Index == bootLoaderPCR && e.Type == evEFIBootServicesApplication {
			m.UKI = e.Digest
			break
		}
	}
	if m.UKI == nil {
		return nil, refuse("the event log shows no UEFI application started by the firmware")
	}
	if !want.AnyRelease && !contains(want.Releases, m.UKI) {
		return nil, refuse("untrusted release: the node booted a UKI with Authenticode hash %s, which is none of the %d trusted releases", hex.EncodeToString(m.UKI), len(want.Releases))
	}
	for _, i := range FirmwarePCRs {
		m.Firmware[i] = ev.PCRs[i]
	}
	if want.Firmware != nil {
		for _, i := range FirmwarePCRs {
			if !bytes.Equal(want.Firmware[i], m.Firmware[i]) {
				return nil, refuse("firmware changed: PCR %d is %s, was %s when the node was first attested", i, shortHex(m.Firmware[i]), shortHex(want.Firmware[i]))
			}
		}
	}
	return m, nil
}

func contains(set [][]byte, b []byte) bool {
	for _, s := range set {
		if bytes.Equal(s, b) {
			return true
		}
	}
	return false
}
