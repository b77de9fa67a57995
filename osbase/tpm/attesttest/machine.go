// Package attesttest gives attestation tests machines with software TPMs: manufactured like a
// vendor's (optionally with an EK certificate from a tpmtest.VendorCA), booted with made-up
// firmware and a made-up UKI, each with an Attestor and an attestation key. Tests only.
package attesttest

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-attestation/attest"

	"metropolis.dev/metropolis/osbase/tpm"
	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

// Machine is a made-up machine with a software TPM.
type Machine struct {
	t     testing.TB
	state string
	stop  func()
	// Attestor is the machine's TPM, for attestation.
	Attestor *tpm.Attestor
	// EK is its TPM's endorsement key.
	EK *tpm.Endorsement
	// AK is the blob of an attestation key made in its TPM, and AKParams what a verifier
	// checks it by.
	AK       []byte
	AKParams attest.AttestationParameters
}

// New makes a machine whose TPM is manufactured (with an EK certificate from vendor, if not
// nil) and boots it with firmware and uki (tpmtest.BootEvents).
func New(t testing.TB, vendor *tpmtest.VendorCA, firmware, uki string) *Machine {
	t.Helper()
	m := &Machine{t: t, state: tpmtest.TempDir(t)}
	if vendor != nil {
		tpmtest.Manufacture(t, m.state, vendor)
	}
	m.Boot(firmware, uki)
	var err error
	if m.EK, err = m.Attestor.Endorsement(); err != nil {
		t.Fatal(err)
	}
	if m.AK, m.AKParams, err = m.Attestor.NewAK(); err != nil {
		t.Fatal(err)
	}
	return m
}

// Boot (re)starts the machine with firmware and uki: its TPM keeps its seeds (and so its EK
// and the AK), its PCRs start over.
func (m *Machine) Boot(firmware, uki string) {
	m.t.Helper()
	if m.stop != nil {
		m.stop()
	}
	rw, stop := tpmtest.Start(m.t, m.state)
	m.stop = stop
	// The firmware's measurements go in through the socket's one client; attestation then
	// uses the same connection (commands are sent one after the other).
	tp := tpm.OpenTransport(rw)
	events := tpmtest.BootEvents(firmware, uki)
	for _, e := range events {
		if err := tp.ExtendPCR(e.PCR, []byte(e.Measured)); err != nil {
			m.t.Fatal(err)
		}
	}
	att, err := tpm.OpenAttestorTransport(rw, tpmtest.EventLog(events))
	if err != nil {
		m.t.Fatal(err)
	}
	m.Attestor = att
}

// Transcript is one attestation as a verifier saw it, recorded for tests that verify without
// a TPM: what it kept from the node's registration (the AK's public part), the nonce it sent,
// the evidence that came back, and what that boot measured.
type Transcript struct {
	AKPublic []byte
	Nonce    []byte
	Evidence *tpm.Evidence
	UKI      []byte
	Firmware map[int][]byte
}

// ReadTranscript reads a Transcript recorded as JSON at path.
func ReadTranscript(t testing.TB, path string) *Transcript {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr Transcript
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &tr
}
