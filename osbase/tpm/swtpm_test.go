package tpm

import (
	"testing"

	"metropolis.dev/metropolis/osbase/tpm/tpmtest"
)

// startSWTPM starts a software TPM 2.0 with its own state and returns a TPM talking to it.
// The TPM's seeds are drawn when its state is created, so every call gives a different TPM.
func startSWTPM(t *testing.T) *TPM {
	t.Helper()
	tp, _ := startSWTPMWithState(t, tpmtest.TempDir(t))
	return tp
}

// startSWTPMWithState starts a software TPM 2.0 keeping its state in the directory state
// and returns it with a function that stops it (tpmtest.Start).
func startSWTPMWithState(t *testing.T, state string) (*TPM, func()) {
	t.Helper()
	conn, stop := tpmtest.Start(t, state)
	tp := OpenTransport(conn)
	t.Cleanup(func() { _ = tp.Close() })
	return tp, stop
}
