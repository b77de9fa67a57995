package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// srk is the storage root key, loaded for one operation.
type srk struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	public tpm2.TPMTPublic
}

// createSRK loads the storage root key: the primary key the TCG ECC P-256 SRK template
// yields in the owner hierarchy. The TPM derives it from its owner seed, so it is the same
// key every time on this TPM (until TPM2_Clear) and a different one on any other TPM, and
// nothing has to be kept in the TPM's persistent storage.
func createSRK(t transport.TPM) (*srk, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM: create storage root key: %w", err)
	}
	public, err := rsp.OutPublic.Contents()
	if err != nil {
		flush(t, rsp.ObjectHandle)
		return nil, fmt.Errorf("TPM: storage root key's public part: %w", err)
	}
	return &srk{handle: rsp.ObjectHandle, name: rsp.Name, public: *public}, nil
}

func (s *srk) flush(t transport.TPM) { flush(t, s.handle) }

// flush unloads a transient object. A failure only leaves the object loaded until the
// resource manager (or a TPM reset) removes it, so it is not reported.
func flush(t transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t)
}
