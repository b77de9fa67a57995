package tpm

import "errors"

// Errors a caller tells apart with errors.Is. Returned errors wrap these with details.
var (
	// ErrNoTPM: the machine has no TPM 2.0 device the kernel exposes.
	ErrNoTPM = errors.New("no TPM 2.0 found (neither /dev/tpmrm0 nor /dev/tpm0 exists)")
	// ErrDamaged: the blob is not a sealed blob of this package, or it was changed after
	// sealing.
	ErrDamaged = errors.New("sealed blob is damaged or not a sealed blob")
	// ErrDifferentTPM: the blob was sealed by another TPM, or by this one before its owner
	// hierarchy was cleared; this TPM cannot load the sealed object.
	ErrDifferentTPM = errors.New("sealed to a different TPM (or this TPM was cleared since)")
	// ErrBootChanged: the TPM refused to unseal because the measured boot chain (the PCRs the
	// blob was sealed under) is none of the boot chains it was sealed to.
	ErrBootChanged = errors.New("the boot chain changed since this was sealed")
	// ErrTooLarge: Seal or SealTo was given more than MaxPayload bytes.
	ErrTooLarge = errors.New("payload too large to seal")
)
