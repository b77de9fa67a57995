// Package attestation is the verifier's side of TPM remote attestation: it decides whether a
// machine is one the cluster trusts and runs software the cluster trusts, from what the
// machine's TPM proves (osbase/tpm's Attestor is the prover's side).
//
// Three checks, each a function of its inputs (no I/O, time injected):
//
//   - CheckEndorsement: is this TPM trusted? Its endorsement key (EK) must either carry a
//     certificate chaining to one of the CA certificates the cluster's policy names (TPM
//     vendors' roots), or be pinned by its fingerprint (for TPMs without a certificate).
//   - Challenge, then comparing the secret: does the attestation key (AK) live in that TPM?
//     The verifier encrypts a random secret to the EK and the AK's name (TPM2_MakeCredential,
//     in software); only the TPM holding both can decrypt it (TPM2_ActivateCredential).
//   - Verify: is this boot trusted? The AK's quote must carry the verifier's fresh nonce (a
//     replayed quote carries an older one), its signature must verify, the PCR values must be
//     those quoted, and the firmware's event log must replay to them. Then the first UEFI
//     application the firmware started (the unified kernel image, whose Authenticode hash
//     covers its kernel, initramfs and command line) must be a trusted release, and the
//     firmware's own measurements (FirmwarePCRs: its code, option ROMs and the Secure Boot
//     state) must equal those taken when the node was first attested: they differ from
//     machine to machine, so no release can name them.
//
// Every refusal is an error naming its cause, and is a *Refusal so that the caller can tell a
// refusal from a failure to check. The package stores nothing and decides no policy: the
// curator keeps the policy and each node's EK, AK and firmware measurements, and hands them in.
package attestation
