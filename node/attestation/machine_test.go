package attestation

import (
	"testing"

	"github.com/google/go-attestation/attest"

	"metropolis.dev/metropolis/osbase/tpm"
	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

// machine is a made-up machine with a software TPM: manufactured (with an EK certificate from
// vendor, if given), booted with firmware and uki.
type machine struct {
	att *tpm.Attestor
	ek  *tpm.Endorsement
	ak  []byte // the AK's blob
	// akParams are the AK's attestation parameters, sent to the verifier at registration.
	akParams attest.AttestationParameters
}

func newMachine(t *testing.T, vendor *tpmtest.VendorCA, firmware, uki string) *machine {
	t.Helper()
	state := t.TempDir()
	if vendor != nil {
		tpmtest.Manufacture(t, state, vendor)
	}
	conn, _ := tpmtest.Start(t, state)
	// The firmware's measurements go in through one client of the socket; attestation then
	// uses the same connection (commands are sent one after the other).
	tp := tpm.OpenTransport(conn)
	events := tpmtest.BootEvents(firmware, uki)
	for _, e := range events {
		if err := tp.ExtendPCR(e.PCR, []byte(e.Measured)); err != nil {
			t.Fatal(err)
		}
	}
	att, err := tpm.OpenAttestorTransport(conn, tpmtest.EventLog(events))
	if err != nil {
		t.Fatal(err)
	}
	ek, err := att.Endorsement()
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{att: att, ek: ek}
	if m.ak, m.akParams, err = att.NewAK(); err != nil {
		t.Fatal(err)
	}
	return m
}
