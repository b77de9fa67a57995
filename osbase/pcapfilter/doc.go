// Package pcapfilter compiles capture filters written as for tcpdump into classic BPF
// programs for Ethernet frames, so that packets can be captured through AF_PACKET sockets
// without libpcap (which would need cgo). It owns the filter language's subset, its parser
// and the code it generates; attaching the program and capturing is the caller's.
//
// The subset (pcap-filter(7) semantics where it overlaps):
//
//	expr      = term { ("or" | "||") term }
//	term      = factor { ("and" | "&&") factor }
//	factor    = ("not" | "!") factor | "(" expr ")" | primitive
//	primitive = proto                              ip ip6 arp tcp udp icmp icmp6 sctp
//	          | [proto] [dir] "host" ADDRESS        IPv4 or IPv6
//	          | [proto] [dir] "net" PREFIX          e.g. 10.0.0.0/8, fd00::/8
//	          | [proto] [dir] "port" N              TCP, UDP or SCTP unless proto says
//	          | [proto] [dir] "portrange" N-M
//	dir       = "src" | "dst"                      (neither: either end)
//
// Anything else is refused with an error naming the word and its position, rather than
// compiled into something that captures more or less than asked: a filter that silently
// matched everything would capture what the operator meant to leave alone. Ports match
// unfragmented IPv4 and IPv6 packets whose next header is the transport itself (no
// extension headers), as tcpdump's do.
package pcapfilter
