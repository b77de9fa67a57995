package pcapfilter

import (
	"net"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// frame builds an Ethernet frame carrying an IPv4 or IPv6 packet (by the addresses' family)
// with the given transport ("tcp", "udp", "icmp", "icmp6") and ports; fragment sets a
// fragment offset on IPv4.
func frame(t testing.TB, src, dst string, transport string, sport, dport uint16, fragment bool) []byte {
	t.Helper()
	s, d := net.ParseIP(src), net.ParseIP(dst)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var network gopacket.SerializableLayer
	var next layers.IPProtocol
	switch transport {
	case "tcp":
		next = layers.IPProtocolTCP
	case "udp":
		next = layers.IPProtocolUDP
	case "icmp":
		next = layers.IPProtocolICMPv4
	case "icmp6":
		next = layers.IPProtocolICMPv6
	}
	if s.To4() != nil {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: next, SrcIP: s.To4(), DstIP: d.To4()}
		if fragment {
			ip.FragOffset = 100
		}
		network = ip
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		network = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: s, DstIP: d}
	}
	var transportLayer gopacket.SerializableLayer
	switch transport {
	case "tcp":
		transportLayer = &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true}
	case "udp":
		transportLayer = &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	case "icmp":
		transportLayer = &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}
	case "icmp6":
		transportLayer = &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, network, transportLayer, gopacket.Payload("hello")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func arpFrame(t testing.TB) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: []byte{2, 0, 0, 0, 0, 1}, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, arp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// matches runs filter over pkt in the BPF interpreter.
func matches(t testing.TB, filter string, pkt []byte) bool {
	t.Helper()
	prog, err := compile(filter)
	if err != nil {
		t.Fatalf("compile %q: %v", filter, err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("%q: the program does not load: %v", filter, err)
	}
	n, err := vm.Run(pkt)
	if err != nil {
		t.Fatalf("%q: run: %v", filter, err)
	}
	return n > 0
}

func TestCompileMatches(t *testing.T) {
	tcp4 := frame(t, "10.0.0.1", "10.0.1.2", "tcp", 40000, 80, false)
	udp4 := frame(t, "10.0.0.1", "192.168.1.1", "udp", 5353, 53, false)
	frag4 := frame(t, "10.0.0.1", "10.0.1.2", "tcp", 40000, 80, true)
	icmp4 := frame(t, "10.0.0.1", "10.0.1.2", "icmp", 0, 0, false)
	tcp6 := frame(t, "fd00::1", "fd00:1::2", "tcp", 40000, 443, false)
	icmp6 := frame(t, "fd00::1", "fd00:1::2", "icmp6", 0, 0, false)
	arp := arpFrame(t)
	for _, tc := range []struct {
		filter string
		pkt    []byte
		want   bool
	}{
		{"tcp", tcp4, true}, {"tcp", udp4, false}, {"tcp", tcp6, true}, {"udp", udp4, true},
		{"ip", tcp4, true}, {"ip", tcp6, false}, {"ip6", tcp6, true}, {"arp", arp, true}, {"arp", tcp4, false},
		{"icmp", icmp4, true}, {"icmp", icmp6, false}, {"icmp6", icmp6, true},
		{"host 10.0.1.2", tcp4, true}, {"host 10.0.1.3", tcp4, false}, {"src host 10.0.1.2", tcp4, false}, {"dst host 10.0.1.2", tcp4, true},
		{"host fd00:1::2", tcp6, true}, {"src host fd00:1::2", tcp6, false}, {"host fd00:1::2", tcp4, false}, {"host 10.0.1.2", tcp6, false},
		{"net 10.0.0.0/16", tcp4, true}, {"net 10.0.1.0/24", tcp4, true}, {"src net 10.0.1.0/24", tcp4, false}, {"net 10.1.0.0/16", tcp4, false},
		{"net fd00::/8", tcp6, true}, {"dst net fd00:1::/32", tcp6, true}, {"src net fd00:1::/32", tcp6, false},
		{"net 0.0.0.0/0", tcp4, true}, {"net 0.0.0.0/0", tcp6, false},
		{"port 80", tcp4, true}, {"port 40000", tcp4, true}, {"dst port 40000", tcp4, false}, {"src port 40000", tcp4, true},
		{"port 80", frag4, false}, {"port 443", tcp6, true}, {"udp port 53", udp4, true}, {"tcp port 53", udp4, false},
		{"portrange 50-60", udp4, true}, {"portrange 54-60", udp4, false}, {"dst portrange 1-1024", tcp6, true},
		{"tcp port 80 and host 10.0.1.2", tcp4, true}, {"tcp port 80 and not host 10.0.1.2", tcp4, false},
		{"udp or icmp", icmp4, true}, {"udp || icmp", tcp4, false}, {"!tcp", udp4, true}, {"not (tcp or udp)", udp4, false},
		{"(tcp and port 80) or (udp and port 53)", udp4, true}, {"tcp&&port 80", tcp4, true},
		{"port 80", arp, false}, {"host 10.0.0.1", arp, false},
	} {
		if got := matches(t, tc.filter, tc.pkt); got != tc.want {
			t.Errorf("%q: matched %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	for filter, want := range map[string]string{
		"":                       "empty",
		"tcp prot 80":            `position 5 ("prot"): expected and, or or the end`,
		"((":                     "at the end: expected a primitive",
		"port":                   "at the end: port needs a value",
		"port 99999":             "not a port number",
		"portrange 90-80":        "not a port range",
		"host example.com":       "not an IP address",
		"net 10.0.0.1/8":         "has bits set past its length (did you mean 10.0.0.0/8?)",
		"icmp port 7":            "icmp has no ports",
		"and and":                "expected a protocol",
		"tcp and":                "at the end: expected a primitive",
		"(tcp":                   "expected )",
		"tcp)":                   "expected and, or or the end",
		"src":                    "expected a protocol, src, dst",
		"host 10.0.0.1 \x00":     "byte 0x0 is not part of a filter",
		"ether host 1:2:3:4:5:6": "expected a protocol",
		strings.Repeat("(", 70) + "tcp" + strings.Repeat(")", 70): "nested more than 64 deep",
		strings.Repeat("x", 2000):                                 "2000 bytes, more than 1024",
		"tcp " + strings.Repeat("y", 1000):                        "expected and, or or the end",
	} {
		_, err := Compile(filter)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%.40q) = %v, want an error containing %q", filter, err, want)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("Compile(%.40q): the error echoes %d bytes", filter, len(err.Error()))
		}
	}
}
