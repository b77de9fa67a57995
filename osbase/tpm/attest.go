package tpm

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-attestation/attest"
)

// Remote attestation, the prover's side (go-attestation): the TPM tells a verifier which TPM
// it is and what this machine booted.
//
//   - Endorsement: the TPM's endorsement key (EK), which only this TPM holds, with the
//     certificate its vendor stored in the TPM's NV memory if there is one.
//   - NewAK: an attestation key (AK), a restricted signing key made in this TPM, which signs
//     only what the TPM itself produced (quotes). Its blob is encrypted by the TPM and may be
//     kept anywhere; only this TPM can load it.
//   - ActivateCredential: the TPM releases a secret the verifier encrypted to the EK and the
//     AK's name only if it holds both, which proves to the verifier that the AK lives in the
//     TPM that owns the EK.
//   - Quote: the AK signs the SHA-256 values of QuotedPCRs with a verifier's nonce; the
//     firmware's event log says what was measured into them.
//
// The verifier's side, and what it trusts, is the caller's (node/attestation).

// QuotedPCRs are the PCRs a quote covers: what the firmware measured up to and including the
// boot loader (the unified kernel image, with its command line), the Secure Boot state and the
// platform's configuration. Nothing measured after boot goes into them, so their values do not
// change while the node runs.
var QuotedPCRs = []int{0, 1, 2, 3, 4, 5, 6, 7}

// Attestor proves this TPM's identity and this boot's measurements. Open it with OpenAttestor.
type Attestor struct {
	tpm *attest.TPM
}

// OpenAttestor opens the machine's TPM (/dev/tpmrm0) for attestation; the event log is read
// from securityfs. It may be open beside the TPM of Open: the kernel's resource manager keeps
// their sessions apart.
func OpenAttestor() (*Attestor, error) {
	t, err := attest.OpenTPM(nil)
	if err != nil {
		return nil, fmt.Errorf("open TPM for attestation: %w", err)
	}
	return &Attestor{tpm: t}, nil
}

// OpenAttestorTransport uses rw as the TPM (a stream of TPM 2.0 commands and responses, e.g.
// swtpm's socket) and eventLog as its event log, as in tests. Close closes rw.
func OpenAttestorTransport(rw io.ReadWriteCloser, eventLog []byte) (*Attestor, error) {
	t, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: &channel{rw: &framedStream{rw: rw}, log: eventLog}})
	if err != nil {
		return nil, fmt.Errorf("open TPM for attestation: %w", err)
	}
	return &Attestor{tpm: t}, nil
}

// channel is go-attestation's command channel in tests: TPM commands and the event log.
type channel struct {
	rw  io.ReadWriteCloser
	log []byte
}

func (c *channel) Read(p []byte) (int, error)      { return c.rw.Read(p) }
func (c *channel) Write(p []byte) (int, error)     { return c.rw.Write(p) }
func (c *channel) Close() error                    { return c.rw.Close() }
func (c *channel) MeasurementLog() ([]byte, error) { return c.log, nil }

// Close closes the TPM.
func (a *Attestor) Close() error { return a.tpm.Close() }

// Endorsement is a TPM's endorsement key.
type Endorsement struct {
	// Public is the EK's public key (PKIX, DER).
	Public []byte
	// Certificate is the EK certificate the vendor stored in the TPM (DER); nil if it has none.
	Certificate []byte
}

// Endorsement returns the TPM's RSA endorsement key, the one ActivateCredential uses.
func (a *Attestor) Endorsement() (*Endorsement, error) {
	eks, err := a.tpm.EKs()
	if err != nil {
		return nil, fmt.Errorf("read the TPM's endorsement key: %w", err)
	}
	if len(eks) == 0 {
		return nil, errors.New("the TPM has no endorsement key")
	}
	pub, err := x509.MarshalPKIXPublicKey(eks[0].Public)
	if err != nil {
		return nil, fmt.Errorf("encode the TPM's endorsement key: %w", err)
	}
	e := &Endorsement{Public: pub}
	if c := eks[0].Certificate; c != nil {
		e.Certificate = c.Raw
	}
	return e, nil
}

// NewAK makes a new attestation key in the TPM and returns its blob (for LoadAK's callers:
// ActivateCredential and Quote) and the parameters a verifier checks it by.
func (a *Attestor) NewAK() ([]byte, attest.AttestationParameters, error) {
	ak, err := a.tpm.NewAK(nil)
	if err != nil {
		return nil, attest.AttestationParameters{}, fmt.Errorf("make an attestation key: %w", err)
	}
	defer func() { _ = ak.Close(a.tpm) }()
	blob, err := ak.Marshal()
	if err != nil {
		return nil, attest.AttestationParameters{}, fmt.Errorf("keep the attestation key: %w", err)
	}
	return blob, ak.AttestationParameters(), nil
}

// AKParameters returns what a verifier checks the attestation key akBlob by (as NewAK did).
func (a *Attestor) AKParameters(akBlob []byte) (attest.AttestationParameters, error) {
	ak, err := a.tpm.LoadAK(akBlob)
	if err != nil {
		return attest.AttestationParameters{}, fmt.Errorf("load the attestation key (made by another TPM, or this one cleared?): %w", err)
	}
	defer func() { _ = ak.Close(a.tpm) }()
	return ak.AttestationParameters(), nil
}

// ActivateCredential has the TPM decrypt a verifier's credential for the attestation key
// akBlob and the endorsement key, and returns its secret.
func (a *Attestor) ActivateCredential(akBlob []byte, cred attest.EncryptedCredential) ([]byte, error) {
	ak, err := a.tpm.LoadAK(akBlob)
	if err != nil {
		return nil, fmt.Errorf("load the attestation key (made by another TPM, or this one cleared?): %w", err)
	}
	defer func() { _ = ak.Close(a.tpm) }()
	secret, err := ak.ActivateCredential(a.tpm, cred)
	if err != nil {
		return nil, fmt.Errorf("activate the credential: %w", err)
	}
	return secret, nil
}

// Evidence is what a quote proves: the PCRs' values, signed with a nonce, and the event log
// that explains them.
type Evidence struct {
	// Quote and Signature are the TPM's TPMS_ATTEST over QuotedPCRs and the nonce, and the
	// attestation key's signature of it.
	Quote, Signature []byte
	// PCRs are the SHA-256 values of QuotedPCRs.
	PCRs map[int][]byte
	// EventLog is the firmware's TCG event log.
	EventLog []byte
}

// Quote has the attestation key akBlob sign the SHA-256 values of QuotedPCRs with nonce, and
// returns them with the event log. The quote is checked here before it is returned.
func (a *Attestor) Quote(akBlob, nonce []byte) (*Evidence, error) {
	ak, err := a.tpm.LoadAK(akBlob)
	if err != nil {
		return nil, fmt.Errorf("load the attestation key (made by another TPM, or this one cleared?): %w", err)
	}
	defer func() { _ = ak.Close(a.tpm) }()
	all, err := a.tpm.PCRs(attest.HashSHA256)
	if err != nil {
		return nil, fmt.Errorf("read the PCRs: %w", err)
	}
	q, err := ak.QuotePCRs(a.tpm, nonce, attest.HashSHA256, QuotedPCRs)
	if err != nil {
		return nil, fmt.Errorf("quote the PCRs: %w", err)
	}
	ev := &Evidence{Quote: q.Quote, Signature: q.Signature, PCRs: map[int][]byte{}}
	var quoted []attest.PCR
	for _, p := range all {
		for _, i := range QuotedPCRs {
			if p.Index == i {
				ev.PCRs[i] = p.Digest
				quoted = append(quoted, p)
			}
		}
	}
	pub, err := attest.ParseAKPublic(ak.AttestationParameters().Public)
	if err != nil {
		return nil, fmt.Errorf("the attestation key: %w", err)
	}
	if err := pub.Verify(*q, quoted, nonce); err != nil {
		return nil, fmt.Errorf("the TPM's quote does not match its PCRs: %w", err)
	}
	if ev.EventLog, err = a.tpm.MeasurementLog(); err != nil {
		return nil, fmt.Errorf("read the event log: %w", err)
	}
	return ev, nil
}
