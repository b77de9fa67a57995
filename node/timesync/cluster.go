package timesync

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/ports"
)

// NTPPort is where consensus members answer NTP requests (UDP).
const NTPPort = uint16(ports.NTP)

// ClusterServers is whom a node asks for the time when no outside server is known: the
// cluster's time reference, the consensus member with the lowest address among curators
// (host:port of the cluster's curators, which run on the consensus members). Every node
// computes the same reference from the same list, so the cluster follows one clock and no two
// members follow each other in a loop. The reference itself asks no one (reference true).
func ClusterServers(curators []string, self string) (servers []string, reference bool) {
	var hosts []netip.Addr
	for _, c := range curators {
		host, _, err := net.SplitHostPort(c)
		if err != nil {
			host = c
		}
		if a, err := netip.ParseAddr(host); err == nil {
			hosts = append(hosts, a.Unmap())
		}
	}
	if len(hosts) == 0 {
		return nil, false
	}
	ref := slices.MinFunc(hosts, func(a, b netip.Addr) int { return a.Compare(b) })
	if self, err := netip.ParseAddr(self); err == nil && self.Unmap() == ref {
		return nil, true
	}
	return []string{netip.AddrPortFrom(ref, NTPPort).String()}, false
}

// ClusterPeers are the other consensus members (NTP host:port, lowest address first), by the
// curators' addresses, whom a node that becomes the reference asks for the cluster's time
// before it serves its own (reference.go).
func ClusterPeers(curators []string, self string) []string {
	selfAddr, _ := netip.ParseAddr(self)
	var peers []netip.Addr
	for _, c := range curators {
		host, _, err := net.SplitHostPort(c)
		if err != nil {
			host = c
		}
		a, err := netip.ParseAddr(host)
		if err != nil || a.Unmap() == selfAddr.Unmap() || slices.Contains(peers, a.Unmap()) {
			continue
		}
		peers = append(peers, a.Unmap())
	}
	slices.SortFunc(peers, func(a, b netip.Addr) int { return a.Compare(b) })
	out := make([]string, len(peers))
	for i, p := range peers {
		out[i] = netip.AddrPortFrom(p, NTPPort).String()
	}
	return out
}

// WithPort gives each server without a port NTP's (123): configured servers are host or
// host:port.
func WithPort(servers []string) []string {
	out := make([]string, 0, len(servers))
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "123")
		}
		out = append(out, s)
	}
	return out
}

// ServedReference is what a node answering NTP requests says of its source, by its status:
// the reference's own clock; a synchronised node's server, one stratum further; and for a node
// that is neither, the stratum of an unsynchronised server, which clients refuse.
func ServedReference(st *Status, now time.Time) Reference {
	switch {
	case st == nil || !st.Synced && !st.Reference:
		return Reference{Stratum: 16, Time: now}
	case st.Reference:
		return LocalReference(now)
	}
	ref := Reference{Stratum: min(st.Stratum+1, 15), Time: st.LastSync, RootDistance: st.RootDistance}
	if host, _, err := net.SplitHostPort(st.Server); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.Unmap().Is4() {
			b := a.Unmap().As4()
			ref.ID = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		}
	}
	return ref
}

// Proto is the status as the node reports it (api/v1 NodeStatus.time_sync).
func (s *Status) Proto() *apb.TimeSyncStatus {
	p := &apb.TimeSyncStatus{
		Synced: s.Synced, Reference: s.Reference, Server: s.Server, Stratum: uint32(s.Stratum),
		Warning: s.Warning, Error: s.Error,
	}
	if s.Synced {
		p.Offset = durationpb.New(s.Offset)
		p.RootDistance = durationpb.New(s.RootDistance)
		p.LastSync = timestamppb.New(s.LastSync)
		p.Adjustment = s.Adjust.String()
	}
	return p
}
