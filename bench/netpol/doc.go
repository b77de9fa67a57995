// Package netpol_bench measures NetworkPolicy enforcement (node/kubernetes/netpol) at scale:
// computing one node's rules from 1,000 pods and 100 policies, and replacing its nftables table
// with them in a scratch network namespace (root only). It holds benchmarks only; run them
// with `go test -run x -bench . -benchmem ./bench/netpol/`.
package netpol_bench
