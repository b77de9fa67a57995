package workers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/launch/kubectl"
	"metropolis.dev/metropolis/test/testenv"
)

// testCapture captures a request from one pod (client) to another (server, on node) on the
// server node's pod interfaces, and reads the pcap file back: it holds the request's TCP
// packets to and from the server pod.
func testCapture(t *testing.T, c *testenv.VMCluster, k *kubectl.Kubectl, node, client, server string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	podIP := must(t, k, "", "get", "pod", server, "-o", "jsonpath={.status.podIP}")
	nm := nodeManagement(ctx, t, c, node)
	network, err := nm.GetNetwork(ctx, &apb.GetNetworkRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Which veth is the server pod's is not known here: capture on every one.
	captureCtx, stopCaptures := context.WithCancel(ctx)
	defer stopCaptures()
	type result struct {
		iface string
		file  []byte
		err   error
	}
	results := make(chan result, len(network.Interfaces))
	var wg sync.WaitGroup
	for _, iface := range network.Interfaces {
		if iface.Type != "veth" {
			continue
		}
		wg.Go(func() {
			file, err := captureFile(captureCtx, nm, &apb.CapturePacketsRequest{
				Interface: iface.Name, Filter: "tcp port 8080 and host " + podIP, Duration: durationpb.New(90 * time.Second), MaxPackets: 4,
			})
			results <- result{iface.Name, file, err}
		})
	}
	go func() { wg.Wait(); close(results) }()
	// The captures attach within a moment of their calls; then a pod asks the other.
	time.Sleep(5 * time.Second)
	if _, err := k.Run("", "exec", client, "--", "/testhttp", "get", "http://"+net.JoinHostPort(podIP, "8080")+"/healthz"); err != nil {
		t.Fatalf("pod %s asking pod %s: %v", client, server, err)
	}
	for r := range results {
		if r.err != nil {
			continue // the other veths' captures, stopped below
		}
		packets, err := tcpPackets(r.file, podIP, 8080)
		if err != nil {
			t.Fatalf("capture on %s: %v", r.iface, err)
		}
		t.Logf("captured %d packets of the request on %s of node %s", packets, r.iface, node)
		if packets == 4 {
			stopCaptures()
			return
		}
	}
	t.Errorf("no capture on a veth of node %s holds the request to %s:8080", node, podIP)
}

// captureFile runs CapturePackets and returns the pcap file once the summary came.
func captureFile(ctx context.Context, nm apb.NodeManagementClient, req *apb.CapturePacketsRequest) ([]byte, error) {
	stream, err := nm.CapturePackets(ctx, req)
	if err != nil {
		return nil, err
	}
	var file bytes.Buffer
	for {
		res, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		file.Write(res.Pcap)
		if res.Summary != nil {
			return file.Bytes(), nil
		}
	}
}

// tcpPackets counts the packets of a pcap file that are TCP to or from ip:port, and fails on
// any other.
func tcpPackets(file []byte, ip string, port int) (int, error) {
	r, err := pcapgo.NewReader(bytes.NewReader(file))
	if err != nil {
		return 0, fmt.Errorf("not a pcap file: %w", err)
	}
	n := 0
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip4, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip4 == nil || tcp == nil || (ip4.SrcIP.String() != ip && ip4.DstIP.String() != ip) || (int(tcp.SrcPort) != port && int(tcp.DstPort) != port) {
			return n, fmt.Errorf("packet %d is not TCP to or from %s:%d: %v", n+1, ip, port, p)
		}
		n++
	}
}
