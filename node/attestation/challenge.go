package attestation

import (
	"crypto/subtle"
	"crypto/x509"
	"fmt"

	"github.com/google/go-attestation/attest"
)

// Challenge checks that the attestation key described by ak is a restricted signing key made
// in a TPM, and encrypts a new random secret to the endorsement key ekPublic (PKIX, DER) and
// the AK: only the TPM that holds both can recover it (osbase/tpm's ActivateCredential). The
// caller keeps the secret (or its hash) and compares what comes back with CheckActivation.
func Challenge(ekPublic []byte, ak attest.AttestationParameters) (secret []byte, cred *attest.EncryptedCredential, err error) {
	ek, err := x509.ParsePKIXPublicKey(ekPublic)
	if err != nil {
		return nil, nil, refuse("EK not usable: %.200v", err)
	}
	params := attest.ActivationParameters{EK: ek, AK: ak}
	if err := params.CheckAKParameters(); err != nil {
		return nil, nil, refuse("AK not in that TPM: it is not a restricted signing key the TPM made: %.200v", err)
	}
	secret, cred, err = params.Generate()
	if err != nil {
		return nil, nil, fmt.Errorf("make the credential: %w", err)
	}
	return secret, cred, nil
}

// CheckActivation compares the secret a machine recovered with the one Challenge made.
func CheckActivation(want, got []byte) error {
	if len(want) == 0 || subtle.ConstantTimeCompare(want, got) != 1 {
		return refuse("AK not in that TPM: the credential encrypted to its EK and AK was not recovered")
	}
	return nil
}
