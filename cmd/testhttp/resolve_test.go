package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers A queries for the names in records on a UDP socket on 127.0.0.1, and
// NXDOMAIN for the rest, like a cluster DNS server would.
func fakeDNS(t *testing.T, records map[string][4]byte) *net.Resolver {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply, err := answer(buf[:n], records); err == nil {
				_, _ = conn.WriteTo(reply, from)
			}
		}
	}()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", conn.LocalAddr().String())
		},
	}
}

func answer(query []byte, records map[string][4]byte) ([]byte, error) {
	var msg dnsmessage.Message
	if err := msg.Unpack(query); err != nil {
		return nil, err
	}
	msg.Header.Response = true
	msg.Header.RecursionAvailable = true
	q := msg.Questions[0]
	addr, ok := records[q.Name.String()]
	switch {
	case !ok:
		msg.Header.RCode = dnsmessage.RCodeNameError
	case q.Type == dnsmessage.TypeA:
		msg.Answers = []dnsmessage.Resource{{
			Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 30},
			Body:   &dnsmessage.AResource{A: addr},
		}}
	}
	return msg.Pack()
}

func TestResolve(t *testing.T) {
	resolver := fakeDNS(t, map[string][4]byte{"web.default.svc.cluster.local.": {10, 96, 0, 10}})
	for _, tc := range []struct {
		name, wantStdout, wantErr string
	}{
		{"web.default.svc.cluster.local.", "10.96.0.10\n", ""},
		{"127.0.0.1", "127.0.0.1\n", ""},
		{"missing.default.svc.cluster.local.", "", "lookup missing.default.svc.cluster.local."},
		{"bad..name", "", "lookup bad..name: no such host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := runResolve(context.Background(), []string{tc.name}, &stdout, resolver)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("resolve %s: %v, want error %q", tc.name, err, tc.wantErr)
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
		})
	}
}

// The real resolver reads /etc/hosts, as it will in a pod.
func TestRunResolveLocalhost(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"resolve", "localhost"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "127.0.0.1\n") && !strings.Contains(stdout.String(), "::1\n") {
		t.Errorf("localhost resolved to %q, want a loopback address", stdout.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"resolve", "bad..name"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit status %d for an invalid name, want 1", code)
	}
	if !strings.Contains(stderr.String(), "testhttp resolve: lookup bad..name") {
		t.Errorf("stderr %q does not say which lookup failed", stderr.String())
	}
}
