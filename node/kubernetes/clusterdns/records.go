package clusterdns

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// ttl is the time to live of every answer, positive and negative: short, so that a changed
// Service is seen within seconds, as with CoreDNS's default of 5.
const ttl = 5

// schemaVersion is the version of the Kubernetes DNS specification these answers follow.
const schemaVersion = "1.1.0"

// dashedAddr writes an address as one DNS label: 10.0.0.1 is 10-0-0-1, fd00::1 is fd00--1.
// A trailing dash gets a 0 so the label does not end in a dash (CoreDNS does the same).
func dashedAddr(a netip.Addr) string {
	s := strings.ReplaceAll(strings.ReplaceAll(a.Unmap().String(), ".", "-"), ":", "-")
	if strings.HasSuffix(s, "-") {
		s += "0"
	}
	return s
}

// parseDashedAddr reads a label written by dashedAddr (or an equivalent spelling).
func parseDashedAddr(label string) (netip.Addr, bool) {
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
		return a, err == nil && a.Is4()
	}
	a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
	return a, err == nil && a.Is6() && !a.Is4In6() && a.Zone() == ""
}

// wantsAddr reports whether a query of type qtype is answered by an address of a's family.
func wantsAddr(qtype uint16, a netip.Addr) bool {
	switch qtype {
	case dns.TypeA:
		return a.Is4()
	case dns.TypeAAAA:
		return a.Is6()
	case dns.TypeANY:
		return true
	}
	return false
}

// addrRR is the A or AAAA record of a for name.
func addrRR(name string, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: header(name, dns.TypeA), A: net.IP(a.AsSlice())}
	}
	return &dns.AAAA{Hdr: header(name, dns.TypeAAAA), AAAA: net.IP(a.AsSlice())}
}

func header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

// soa is the cluster domain's SOA record, put in the authority section of negative answers
// so that resolvers cache them for ttl seconds (RFC 2308).
func soa(domain string) dns.RR {
	return &dns.SOA{
		Hdr:     header(domain, dns.TypeSOA),
		Ns:      "ns.dns." + domain,
		Mbox:    "hostmaster." + domain,
		Serial:  1,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  ttl,
	}
}

// ptrName is the reverse-lookup name of a (in-addr.arpa or ip6.arpa), lower case.
func ptrName(a netip.Addr) string {
	name, err := dns.ReverseAddr(a.Unmap().String())
	if err != nil {
		return ""
	}
	return strings.ToLower(name)
}

// parsePtrName returns the address a reverse-lookup name stands for, if it is one.
func parsePtrName(qname string) (netip.Addr, bool) {
	name := strings.ToLower(dns.Fqdn(qname))
	var a netip.Addr
	var err error
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa."):
		labels := dns.SplitDomainName(strings.TrimSuffix(name, ".in-addr.arpa."))
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
			labels[i], labels[j] = labels[j], labels[i]
		}
		a, err = netip.ParseAddr(strings.Join(labels, "."))
		return a, err == nil && a.Is4() && ptrName(a) == name
	case strings.HasSuffix(name, ".ip6.arpa."):
		labels := dns.SplitDomainName(strings.TrimSuffix(name, ".ip6.arpa."))
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b strings.Builder
		for i := len(labels) - 1; i >= 0; i-- {
			b.WriteString(labels[i])
			if i%4 == 0 && i > 0 {
				b.WriteByte(':')
			}
		}
		a, err = netip.ParseAddr(b.String())
		return a, err == nil && a.Is6() && ptrName(a) == name
	}
	return netip.Addr{}, false
}
