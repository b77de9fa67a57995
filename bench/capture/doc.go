// Package capture_bench measures what a packet capture (NodeManagement.CapturePackets, node
// management's AF_PACKET ring, BPF filter and pcap stream) costs the traffic it watches: UDP
// datagrams over loopback with and without a capture of them running. It holds benchmarks
// only; run them as root on a quiet machine with
// `go test -run x -bench . -benchmem ./bench/capture/`.
package capture_bench
