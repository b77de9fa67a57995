package nodemgmt

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/pcapfilter"
)

// Capture limits: the defaults when a request leaves one unset, and the most it may ask.
const (
	defaultCaptureDuration = 10 * time.Second
	maxCaptureDuration     = 5 * time.Minute
	defaultCapturePackets  = 10_000
	maxCapturePackets      = 1_000_000
	defaultCaptureBytes    = 64 << 20
	maxCaptureBytes        = 1 << 30
	maxSnapLength          = 262144
	// captureChunk is how many bytes of the file are sent per message.
	captureChunk = 256 << 10
	// capturePoll is how often a quiet capture checks its deadline and its call.
	capturePoll = 200 * time.Millisecond
)

// captureLimits is a checked CapturePacketsRequest.
type captureLimits struct {
	iface  string
	filter []bpf.RawInstruction // nil: every packet
	// match runs the same filter in user space. The packet socket is bound to the interface
	// before the filter is attached, so the packets queued in between reach the ring
	// unfiltered; match drops them.
	match    *bpf.VM
	duration time.Duration
	packets  int64
	bytes    int64
	snap     int
}

// checkCapture checks a request and fills in defaults, naming the first field that is wrong.
func checkCapture(req *apb.CapturePacketsRequest) (captureLimits, error) {
	l := captureLimits{iface: req.GetInterface(), duration: defaultCaptureDuration, packets: defaultCapturePackets, bytes: defaultCaptureBytes, snap: maxSnapLength}
	if l.iface == "" || len(l.iface) > 15 || strings.ContainsAny(l.iface, "/ \x00") {
		return l, fmt.Errorf("interface: %.32q is not an interface name", l.iface)
	}
	if f := req.GetFilter(); f != "" {
		prog, err := pcapfilter.Compile(f)
		if err != nil {
			return l, err
		}
		l.filter = prog
		insns, decoded := bpf.Disassemble(prog)
		if !decoded {
			return l, errors.New("filter: the compiled program does not disassemble")
		}
		if l.match, err = bpf.NewVM(insns); err != nil {
			return l, fmt.Errorf("filter: %w", err)
		}
	}
	if d := req.GetDuration(); d != nil {
		if l.duration = d.AsDuration(); l.duration <= 0 || l.duration > maxCaptureDuration {
			return l, fmt.Errorf("duration: %v is outside (0, %v]", l.duration, maxCaptureDuration)
		}
	}
	switch n := req.GetMaxPackets(); {
	case n < 0 || n > maxCapturePackets:
		return l, fmt.Errorf("max_packets: %d is outside 0 (default %d) to %d", n, defaultCapturePackets, maxCapturePackets)
	case n > 0:
		l.packets = n
	}
	switch n := req.GetMaxBytes(); {
	case n < 0 || n > maxCaptureBytes:
		return l, fmt.Errorf("max_bytes: %d is outside 0 (default %d) to %d", n, defaultCaptureBytes, maxCaptureBytes)
	case n > 0:
		l.bytes = n
	}
	switch n := req.GetSnapLength(); {
	case n < 0 || n > maxSnapLength:
		return l, fmt.Errorf("snap_length: %d is outside 0 (whole packets) to %d", n, maxSnapLength)
	case n > 0:
		l.snap = int(n)
	}
	return l, nil
}

// CapturePackets captures on one interface and streams a pcap file.
func (s *Server) CapturePackets(req *apb.CapturePacketsRequest, srv grpc.ServerStreamingServer[apb.CapturePacketsResponse]) error {
	l, err := checkCapture(req)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if err := checkCaptureInterface(l.iface); err != nil {
		return err
	}
	h, err := afpacket.NewTPacket(afpacket.OptInterface(l.iface), afpacket.OptBlockSize(1<<20), afpacket.OptNumBlocks(8),
		afpacket.OptPollTimeout(capturePoll))
	if err != nil {
		return status.Errorf(codes.Internal, "open a packet socket on %s: %v", l.iface, err)
	}
	defer h.Close()
	if l.filter != nil {
		if err := h.SetBPF(l.filter); err != nil {
			return status.Errorf(codes.Internal, "attach the filter: %v", err)
		}
	}
	s.cfg.Logger.Infof("capturing on %s for up to %v (filter %.64q)", l.iface, l.duration, req.GetFilter())
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(uint32(l.snap), layers.LinkTypeEthernet); err != nil {
		return status.Errorf(codes.Internal, "pcap header: %v", err)
	}
	// flush sends the file's bytes a chunk at a time while at least least are waiting.
	flush := func(least int) error {
		for buf.Len() >= least && buf.Len() > 0 {
			n := min(buf.Len(), captureChunk)
			if err := srv.Send(&apb.CapturePacketsResponse{Pcap: bytes.Clone(buf.Next(n))}); err != nil {
				return err
			}
		}
		return nil
	}
	summary := &apb.CaptureSummary{EndedBy: "duration"}
	deadline := time.Now().Add(l.duration)
	for time.Now().Before(deadline) {
		if err := srv.Context().Err(); err != nil {
			return err
		}
		data, ci, err := h.ReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			continue
		}
		if err != nil {
			return status.Errorf(codes.Internal, "read packets: %v", err)
		}
		if l.match != nil {
			if n, err := l.match.Run(data); err != nil || n == 0 {
				continue
			}
		}
		if len(data) > l.snap {
			data = data[:l.snap]
		}
		ci.CaptureLength = len(data)
		if err := w.WritePacket(ci, data); err != nil {
			return status.Errorf(codes.Internal, "pcap: %v", err)
		}
		summary.Packets++
		summary.Bytes += int64(len(data))
		if err := flush(captureChunk); err != nil {
			return err
		}
		if summary.Packets >= l.packets {
			summary.EndedBy = "max_packets"
			break
		}
		if summary.Bytes >= l.bytes {
			summary.EndedBy = "max_bytes"
			break
		}
	}
	if _, v3, err := h.SocketStats(); err == nil {
		summary.Dropped = uint32(v3.Drops())
	}
	if err := flush(1); err != nil {
		return err
	}
	return srv.Send(&apb.CapturePacketsResponse{Summary: summary})
}

// checkCaptureInterface makes sure the node has the interface and that it frames packets in
// Ethernet, which the filter and the file's link type assume.
func checkCaptureInterface(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var names []string
		if ifaces, lerr := net.Interfaces(); lerr == nil {
			for _, i := range ifaces {
				names = append(names, i.Name)
			}
		}
		if len(names) > 20 {
			names = append(names[:20], "…")
		}
		return status.Errorf(codes.NotFound, "interface %.32q: the node has no such interface; it has %s", name, strings.Join(names, ", "))
	}
	if encap := link.Attrs().EncapType; encap != "ether" && encap != "loopback" {
		return status.Errorf(codes.FailedPrecondition, "interface %s carries %s frames, not Ethernet; capture on the interface the traffic passes as Ethernet (e.g. the node's uplink or a pod's veth)", name, encap)
	}
	return nil
}
