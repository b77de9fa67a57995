package timesync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/facebook/time/ntp/protocol"
)

// Reference is what a responder says about its own time source.
type Reference struct {
	// Stratum is the responder's: its server's plus one, or LocalStratum when it serves its
	// own clock.
	Stratum uint8
	// ID names the source: a server's IPv4 address, or "LOCL" for the local clock.
	ID uint32
	// Time is when the responder's clock was last set from its source.
	Time time.Time
	// RootDistance is how far the responder may be from the reference clock at the root.
	RootDistance time.Duration
}

// LocalStratum is the stratum a node serves its own clock at when it has no server: low enough
// for the cluster's nodes to follow it, high enough that any real server is preferred (chrony's
// and ntpd's choice for a local clock).
const LocalStratum = 10

// LocalReference is the Reference of a node serving its own clock at now.
func LocalReference(now time.Time) Reference {
	return Reference{Stratum: LocalStratum, ID: 0x4c4f434c /* "LOCL" */, Time: now}
}

// Responder answers NTP client requests with this node's clock.
type Responder struct {
	// Now is the clock served; nil: time.Now.
	Now func() time.Time
	// Reference tells the current source; nil: the local clock.
	Reference func() Reference
}

func (r *Responder) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Reply is the answer to request, received at rx. Anything but an NTP client request (mode 3,
// versions 1-4) is refused with an error and gets no answer.
func (r *Responder) Reply(request []byte, rx time.Time) ([]byte, error) {
	if len(request) < protocol.PacketSizeBytes {
		return nil, fmt.Errorf("%d bytes is shorter than an NTP packet", len(request))
	}
	req, err := protocol.BytesToPacket(request[:protocol.PacketSizeBytes])
	if err != nil {
		return nil, err
	}
	if !req.ValidSettingsFormat() {
		return nil, fmt.Errorf("not a client request (settings %#02x)", req.Settings)
	}
	ref := LocalReference(r.now())
	if r.Reference != nil {
		ref = r.Reference()
	}
	resp := &protocol.Packet{
		Settings:       req.Settings&0x38 | 4, // leap indicator 0, the request's version, server mode
		Stratum:        ref.Stratum,
		Poll:           req.Poll,
		Precision:      -20, // about a microsecond
		RootDispersion: shortFormat(ref.RootDistance),
		ReferenceID:    ref.ID,
		OrigTimeSec:    req.TxTimeSec,
		OrigTimeFrac:   req.TxTimeFrac,
	}
	resp.RefTimeSec, resp.RefTimeFrac = protocol.Time(ref.Time)
	resp.RxTimeSec, resp.RxTimeFrac = protocol.Time(rx)
	resp.TxTimeSec, resp.TxTimeFrac = protocol.Time(r.now())
	return resp.Bytes()
}

// shortFormat is d in NTP's 16.16 fixed-point seconds, saturated.
func shortFormat(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	if v := d.Seconds() * 65536; v < 1<<32 {
		return uint32(v)
	}
	return 1<<32 - 1
}

// Serve answers requests on conn until ctx ends. A request it cannot answer is dropped, as NTP
// servers do: a client asks again.
func (r *Responder) Serve(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 1500)
	for {
		n, addr, err := conn.ReadFromUDPAddrPort(buf)
		rx := r.now()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("ntp responder: %w", err)
		}
		reply, err := r.Reply(buf[:n], rx)
		if err != nil {
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(reply, addr); err != nil && ctx.Err() == nil {
			continue // the client's problem (unreachable, say), not the server's
		}
	}
}
