package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, wantErr string
	}{
		{"IPv4 with port", "10.0.0.1:7835", "10.0.0.1:7835", ""},
		{"IPv4 without port gets the curator port", "10.0.0.1", "10.0.0.1:7835", ""},
		{"host name without port", "node1.example", "node1.example:7835", ""},
		{"IPv6 with port", "[fd00::1]:99", "[fd00::1]:99", ""},
		{"bracketed IPv6 without port", "[fd00::1]", "[fd00::1]:7835", ""},
		{"bare IPv6", "fd00::1", "[fd00::1]:7835", ""},
		{"empty", "", "", "empty"},
		{"port zero", "h:0", "", "port"},
		{"port with leading zero", "h:07835", "", "port"},
		{"port out of range", "h:65536", "", "port"},
		{"empty host", ":7835", "", "host is empty"},
		{"a URL", "https://h:1", "", "'/'"},
		{"garbage with colons", "a:b:c", "", "host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEndpoint(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseEndpoint(%q) = %q, %v; want error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseEndpoint(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestContextFileRoundTrip(t *testing.T) {
	f := &ContextFile{Endpoints: []string{"10.0.0.1:7835", "[fd00::1]:7835"}}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseContextFile(data)
	if err != nil {
		t.Fatalf("parse %q: %v", data, err)
	}
	if !reflect.DeepEqual(back, f) {
		t.Errorf("round trip = %+v, want %+v", back, f)
	}
}

func TestParseContextFileRejectsNonCanonicalEndpoints(t *testing.T) {
	// A hand-edited file with a port-less endpoint is refused rather than silently changed,
	// so that what the file says is what metroctl dials.
	_, err := ParseContextFile([]byte("endpoints: [10.0.0.1]\n"))
	if err == nil || !strings.Contains(err.Error(), `want "10.0.0.1:7835"`) {
		t.Errorf("got %v, want an error suggesting the canonical form", err)
	}
}
