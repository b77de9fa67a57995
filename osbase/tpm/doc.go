// Package tpm seals small secrets to this machine's TPM 2.0 under a policy on its boot chain,
// so that a node can keep what it needs before its data partition is unlocked (its sealed node
// record, layout.ESPSealedPath) on the unencrypted ESP.
//
// What a sealed blob binds to:
//   - this TPM: the sealed object is created under the storage root key that the TPM derives
//     from its owner seed (the TCG ECC P-256 SRK template, recreated on each use, so nothing
//     needs to be persisted in the TPM). Another TPM, or this one after TPM2_Clear, has another
//     seed and cannot load the object;
//   - the boot chain: the object's authorization policy is TPM2_PolicyPCR over the SHA-256
//     bank's PCRs 0 (firmware), 2 (option ROMs), 4 (boot loader: the unified kernel image with
//     its command line and initramfs) and 7 (Secure Boot state), as they were when sealing.
//
// How: a TPM sealed data object holds at most 128 bytes, and the node record is a few hundred
// bytes, so Seal draws a random 256-bit key, seals only that key in the TPM and encrypts the
// payload (up to MaxPayload bytes) with AES-256-GCM under it. The sealed blob is binary and
// self-describing: a magic, a version, the PCR selection, the name of the storage root key,
// the TPM's public and private parts of the sealed object, the nonce and the ciphertext, and a
// SHA-256 checksum over all of it, so a damaged file is told apart from a refusal by the TPM.
// Commands that carry the key (Create, Unseal) run in sessions salted with the storage root key
// and AES-encrypt that parameter, so the key does not cross the bus in the clear.
//
// Unseal's failures are distinct sentinel errors (errors.Is): ErrDamaged, ErrDifferentTPM,
// ErrBootChanged, and ErrNoTPM from Open. The package owns no state besides the open device;
// it neither measures anything itself (ExtendPCR is there for that) nor decides what to do
// when unsealing fails: that is the node's.
package tpm
