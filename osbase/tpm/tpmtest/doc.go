// Package tpmtest gives tests a real TPM 2.0 to talk to: swtpm, the software TPM QEMU uses,
// started per test with its own state, optionally manufactured with endorsement-key
// certificates from a local test CA (swtpm_setup with swtpm_localca, as a TPM vendor would);
// and made-up firmware boots to measure into it, with their TCG event logs.
//
// It imports nothing of the packages it serves (osbase/tpm's own tests use it), so that they
// wrap the connection themselves. Tests only: nothing here is fit for a node.
package tpmtest
