// Package attestation_bench measures what TPM attestation costs the curator: verifying one
// join's quote (node/attestation.Verify: the AK's signature, the nonce, the event log replayed,
// the release and firmware checked) and making one registration's credential challenge. It
// holds benchmarks only; the quote is the recorded one node/attestation's tests verify. Run
// them on a quiet machine with `go test -run x -bench . -benchmem ./bench/attestation/`.
package attestation_bench
