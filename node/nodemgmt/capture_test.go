package nodemgmt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestCheckCapture(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *apb.CapturePacketsRequest
		want string // fragment of the error; empty: accepted
	}{
		{"defaults", &apb.CapturePacketsRequest{Interface: "eth0"}, ""},
		{"everything set", &apb.CapturePacketsRequest{Interface: "eth0", Filter: "tcp port 80", Duration: durationpb.New(time.Minute), MaxPackets: 5, MaxBytes: 1 << 20, SnapLength: 96}, ""},
		{"no interface", &apb.CapturePacketsRequest{}, "interface: \"\" is not an interface name"},
		{"a path for an interface", &apb.CapturePacketsRequest{Interface: "../eth0"}, "is not an interface name"},
		{"a malformed filter", &apb.CapturePacketsRequest{Interface: "eth0", Filter: "tcp prot 80"}, `filter: position 5 ("prot")`},
		{"too long", &apb.CapturePacketsRequest{Interface: "eth0", Duration: durationpb.New(time.Hour)}, "duration: 1h0m0s is outside (0, 5m0s]"},
		{"a negative duration", &apb.CapturePacketsRequest{Interface: "eth0", Duration: durationpb.New(-time.Second)}, "duration: -1s"},
		{"too many packets", &apb.CapturePacketsRequest{Interface: "eth0", MaxPackets: 2_000_000}, "max_packets: 2000000 is outside"},
		{"too many bytes", &apb.CapturePacketsRequest{Interface: "eth0", MaxBytes: 2 << 30}, "max_bytes"},
		{"a negative snap length", &apb.CapturePacketsRequest{Interface: "eth0", SnapLength: -1}, "snap_length: -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkCapture(tc.req)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// capture runs CapturePackets and returns the file's bytes and the summary.
func capture(ctx context.Context, c apb.NodeManagementClient, req *apb.CapturePacketsRequest) ([]byte, *apb.CaptureSummary, error) {
	stream, err := c.CapturePackets(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var file bytes.Buffer
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return file.Bytes(), nil, errors.New("the stream ended without a summary")
		}
		if err != nil {
			return nil, nil, err
		}
		file.Write(res.Pcap)
		if res.Summary != nil {
			return file.Bytes(), res.Summary, nil
		}
	}
}

// TestCapturePackets captures TCP connections to a port on loopback through the API (root)
// and reads the file back with a pcap reader: every packet is one of them, and there are some.
func TestCapturePackets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: packet sockets need CAP_NET_RAW")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	tn := startNode(t, testOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Connect over and over while the capture runs: it starts at some point after the call.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if c, err := net.Dial("tcp4", l.Addr().String()); err == nil {
				c.Close()
			}
		}
	}()
	// Other traffic on lo, as from the tests running beside this one: none of it may show up,
	// not even what reaches the socket before its filter is attached.
	noise, err := net.Dial("udp4", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	defer noise.Close()
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = noise.Write([]byte("noise"))
			time.Sleep(50 * time.Microsecond)
		}
	}()
	file, summary, err := capture(ctx, tn.client, &apb.CapturePacketsRequest{
		Interface: "lo", Filter: "tcp port " + strconv.Itoa(port), Duration: durationpb.New(3 * time.Second), MaxPackets: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("the file does not read as pcap: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("link type %v, want Ethernet", r.LinkType())
	}
	var n int64
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		tcp, ok := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || (int(tcp.SrcPort) != port && int(tcp.DstPort) != port) {
			t.Errorf("packet %d is not TCP to or from port %d", n, port)
		}
	}
	if n == 0 || n != summary.Packets || summary.EndedBy == "" {
		t.Errorf("read %d packets, the summary says %v; want some, and the same", n, summary)
	}
	t.Logf("captured %d packets, %d bytes, ended by %s, %d dropped", summary.Packets, summary.Bytes, summary.EndedBy, summary.Dropped)

	_, _, err = capture(ctx, tn.client, &apb.CapturePacketsRequest{Interface: "nosuch0"})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "it has lo") {
		t.Errorf("an unknown interface: %v, want NotFound listing the interfaces", err)
	}
	_, _, err = capture(ctx, tn.client, &apb.CapturePacketsRequest{Interface: "lo", Filter: "tcp prot 80"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `position 5 ("prot")`) {
		t.Errorf("a malformed filter: %v, want InvalidArgument naming the word", err)
	}
}
