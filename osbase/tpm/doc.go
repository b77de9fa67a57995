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
//     its command line and initramfs) and 7 (Secure Boot state). Seal binds to their values
//     now; SealTo to up to 8 sets of values (boot chains), with TPM2_PolicyOR over their
//     PolicyPCR digests.
//
// Sealing to several boot chains is for system updates: before the node reboots into a new
// unified kernel image, it reseals to the boot chain running now and to the one the new image
// will give, so that the record unseals after the trial boot and after a rollback. The new
// chain is predicted, not measured: PredictBootChain replays this boot's TCG event log
// (ReadEventLog) against the current PCRs (ReadPCRs) with the running image's measurement in
// PCR 4 swapped for the new image's Authenticode hash. PolicyPCRDigest and PolicyORDigest
// compute in software the policy digests the TPM computes, so that a blob can be sealed to
// values the PCRs do not hold.
//
// How: a TPM sealed data object holds at most 128 bytes, and the node record is a few hundred
// bytes, so Seal draws a random 256-bit key, seals only that key in the TPM and encrypts the
// payload (up to MaxPayload bytes) with AES-256-GCM under it. The sealed blob is binary and
// self-describing: a magic, a version, the PCR selection, the PolicyPCR digests of the boot
// chains sealed to (which Unseal gives TPM2_PolicyOR), the name of the storage root key, the
// TPM's public and private parts of the sealed object, the nonce and the ciphertext, and a
// SHA-256 checksum over all of it, so a damaged file is told apart from a refusal by the TPM.
// Unseal still reads blobs of the first version, sealed to one boot chain without recording
// it. Commands that carry the key (Create, Unseal) run in sessions salted with the storage root
// key and AES-encrypt that parameter, so the key does not cross the bus in the clear.
//
// Unseal's failures are distinct sentinel errors (errors.Is): ErrDamaged, ErrDifferentTPM,
// ErrBootChanged, and ErrNoTPM from Open. The package owns no state besides the open device;
// it neither measures anything itself (ExtendPCR is there for that) nor decides what to do
// when unsealing fails, or which image to predict: that is the node's.
package tpm
