package timesync

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/ntp"
	"github.com/facebook/time/ntp/protocol"
)

// serveSkewed runs a responder on loopback whose clock is skew ahead of this machine's, and
// returns its address.
func serveSkewed(t *testing.T, skew *atomic.Int64, ref func() Reference) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &Responder{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }, Reference: ref}
	go func() { done <- r.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Serve ended with %v, want context.Canceled", err)
		}
		conn.Close()
	})
	return conn.LocalAddr().String()
}

// TestResponderAnswersAnNTPClient: an upstream NTP client (beevik/ntp) finds the responder's
// clock where it is, accepts the answer as valid, and sees the stratum it serves at.
func TestResponderAnswersAnNTPClient(t *testing.T) {
	skew := 5 * time.Minute
	var s atomic.Int64
	s.Store(int64(skew))
	addr := serveSkewed(t, &s, nil)
	r, err := ntp.QueryWithOptions(addr, ntp.QueryOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("the client refuses the answer: %v", err)
	}
	if d := (r.ClockOffset - skew).Abs(); d > 50*time.Millisecond {
		t.Errorf("offset %v, want %v within 50ms", r.ClockOffset, skew)
	}
	if r.Stratum != LocalStratum || r.ReferenceID != LocalReference(time.Now()).ID {
		t.Errorf("stratum %d, reference %#x; want %d, %q (the local clock)", r.Stratum, r.ReferenceID, LocalStratum, "LOCL")
	}
}

// TestResponderServesItsSource: a synchronised node passes on its source's stratum plus one
// and its distance from the root.
func TestResponderServesItsSource(t *testing.T) {
	var skew atomic.Int64
	synced := time.Now().Add(-time.Minute)
	addr := serveSkewed(t, &skew, func() Reference {
		return Reference{Stratum: 3, ID: 0x0a000001, Time: synced, RootDistance: 20 * time.Millisecond}
	})
	r, err := ntp.QueryWithOptions(addr, ntp.QueryOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stratum != 3 || r.ReferenceString() != "10.0.0.1" || (r.RootDispersion-20*time.Millisecond).Abs() > time.Millisecond {
		t.Errorf("stratum %d, reference %s, root dispersion %v; want 3, 10.0.0.1, 20ms", r.Stratum, r.ReferenceString(), r.RootDispersion)
	}
	if !r.ReferenceTime.Round(time.Millisecond).Equal(synced.Round(time.Millisecond)) {
		t.Errorf("reference time %v, want %v", r.ReferenceTime, synced)
	}
}

func TestReplyRefuses(t *testing.T) {
	client := func(settings uint8) []byte {
		b, _ := (&protocol.Packet{Settings: settings}).Bytes()
		return b
	}
	for _, tc := range []struct {
		name    string
		request []byte
	}{
		{"empty", nil},
		{"short", make([]byte, 47)},
		{"a server's answer (mode 4)", client(0x24)},
		{"a broadcast (mode 5)", client(0x25)},
		{"version 0", client(0x03)},
		{"version 7", client(0x3b)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if reply, err := (&Responder{}).Reply(tc.request, time.Now()); err == nil {
				t.Errorf("Reply answered %x, want an error", reply)
			}
		})
	}
}

// FuzzReply: whatever arrives, the responder does not panic, and what it answers is a server
// answer echoing the request's transmit time.
func FuzzReply(f *testing.F) {
	req, _ := (&protocol.Packet{Settings: 0x23, TxTimeSec: 1, TxTimeFrac: 2}).Bytes()
	f.Add(req)
	f.Add([]byte{0x1b})
	f.Add(append(req, make([]byte, 20)...))
	r := &Responder{Now: func() time.Time { return time.Unix(1700000000, 0) }}
	f.Fuzz(func(t *testing.T, request []byte) {
		reply, err := r.Reply(request, time.Unix(1700000000, 0))
		if err != nil {
			return
		}
		p, err := protocol.BytesToPacket(reply)
		if err != nil {
			t.Fatalf("the reply does not parse: %v", err)
		}
		in, _ := protocol.BytesToPacket(request[:protocol.PacketSizeBytes])
		if p.Settings&7 != 4 || p.Settings>>6 != 0 || p.OrigTimeSec != in.TxTimeSec || p.OrigTimeFrac != in.TxTimeFrac {
			t.Errorf("reply settings %#02x, origin %d.%d; want mode 4, leap 0, origin %d.%d", p.Settings, p.OrigTimeSec, p.OrigTimeFrac, in.TxTimeSec, in.TxTimeFrac)
		}
	})
}
