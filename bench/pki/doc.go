// Package pki_bench measures the cluster PKI's hot paths: issuing a node certificate (the
// curator does it on every approval and renewal), verifying one (every authenticated call), and
// a full mutual-TLS handshake over loopback (every new connection between nodes). It holds
// benchmarks only; run them with `go test -run x -bench . -benchmem ./bench/pki/`.
package pki_bench
