package capture_bench

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/nodemgmt"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// datagramsPerOp are sent and received in one op: few enough that a whole run stays under a
// capture's packet limit (loopback shows each datagram twice, sent and received).
const datagramsPerOp = 100

// noRunnables, noPower: a node management server that only captures needs neither.
type noRunnables struct{}

func (noRunnables) States() []supervisor.NodeState { return nil }

type noPower struct{}

func (noPower) Reboot(context.Context) error   { return errors.New("not in a benchmark") }
func (noPower) Shutdown(context.Context) error { return errors.New("not in a benchmark") }

// BenchmarkLoopbackUDP sends 200-byte UDP datagrams over loopback and reads them back, without
// and with a capture of exactly that traffic streaming to a client: the difference per op is
// what capturing costs 100 datagrams.
func BenchmarkLoopbackUDP(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: packet sockets need CAP_NET_RAW")
	}
	recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	send, err := net.DialUDP("udp4", nil, recv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer send.Close()
	payload, buf := make([]byte, 200), make([]byte, 2048)
	roundTrips := func(b *testing.B) {
		for b.Loop() {
			for range datagramsPerOp {
				if _, err := send.Write(payload); err != nil {
					b.Fatal(err)
				}
				if _, err := recv.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*datagramsPerOp)/b.Elapsed().Seconds(), "datagrams/s")
	}

	b.Run("no capture", roundTrips)
	b.Run("capturing", func(b *testing.B) {
		client := captureClient(b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stream, err := client.CapturePackets(ctx, &apb.CapturePacketsRequest{
			Interface: "lo", Filter: "udp port " + strconv.Itoa(recv.LocalAddr().(*net.UDPAddr).Port),
			Duration: durationpb.New(5 * time.Minute),
		})
		if err != nil {
			b.Fatal(err)
		}
		// The stream sends the file in chunks, so nothing tells when the capture has started;
		// traffic for two seconds first leaves it ample time on a quiet machine.
		captured := make(chan int64, 1)
		go func() {
			var bytes int64
			for {
				res, err := stream.Recv()
				if err != nil {
					captured <- bytes
					return
				}
				bytes += int64(len(res.GetPcap()))
			}
		}()
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
			if _, err := send.Write(payload); err != nil {
				b.Fatal(err)
			}
			if _, err := recv.Read(buf); err != nil {
				b.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.ResetTimer()
		roundTrips(b)
		b.StopTimer()
		cancel()
		if got := <-captured; got == 0 {
			b.Fatal("the capture streamed nothing: it measured no capturing")
		}
	})
}

// captureClient serves node management on loopback and returns a client of it.
func captureClient(b *testing.B) apb.NodeManagementClient {
	lt := logtree.New()
	srv, err := nodemgmt.New(nodemgmt.Config{
		Logs: lt, Runnables: noRunnables{}, Power: noPower{}, Started: time.Now(),
		Self:   nodemgmt.SelfFunc(func() nodemgmt.Self { return nodemgmt.Self{NodeID: "bench"} }),
		Logger: lt.MustLeveledFor("bench"),
	})
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer()
	srv.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	b.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return apb.NewNodeManagementClient(conn)
}
