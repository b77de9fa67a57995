package clusternet

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestConfList(t *testing.T) {
	for _, tc := range []struct {
		name    string
		podCIDR netip.Prefix
		mtu     int
		want    string // JSON, compared as a value
		wantErr bool
	}{
		{
			name:    "node subnet",
			podCIDR: netip.MustParsePrefix("10.112.3.0/24"),
			mtu:     1420,
			want: `{"cniVersion":"1.0.0","name":"metropolis","plugins":[{"type":"ptp","ipMasq":false,"mtu":1420,
				"ipam":{"type":"host-local","ranges":[[{"subnet":"10.112.3.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"/run/cni/ipam"}}]}`,
		},
		{
			name:    "host bits are masked off",
			podCIDR: netip.MustParsePrefix("10.112.3.7/24"),
			mtu:     9000,
			want: `{"cniVersion":"1.0.0","name":"metropolis","plugins":[{"type":"ptp","ipMasq":false,"mtu":9000,
				"ipam":{"type":"host-local","ranges":[[{"subnet":"10.112.3.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"/run/cni/ipam"}}]}`,
		},
		{name: "IPv6 refused", podCIDR: netip.MustParsePrefix("fd00::/64"), mtu: 1420, wantErr: true},
		{name: "invalid refused", mtu: 1420, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfList(tc.podCIDR, tc.mtu, "/run/cni/ipam")
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ConfList(%v) = %s, want an error", tc.podCIDR, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfList(%v): %v", tc.podCIDR, err)
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatalf("ConfList output is not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal([]byte(tc.want), &wantV); err != nil {
				t.Fatalf("bad test JSON: %v", err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("ConfList(%v) =\n%s\nwant\n%s", tc.podCIDR, got, tc.want)
			}
		})
	}
}

func TestWriteIfChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.d", ConfListName)
	for i, step := range []struct {
		content   string
		wantWrote bool
	}{
		{"one", true},
		{"one", false},
		{"two", true},
	} {
		wrote, err := writeIfChanged(path, []byte(step.content))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if wrote != step.wantWrote {
			t.Errorf("step %d (%q): wrote = %v, want %v", i, step.content, wrote, step.wantWrote)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != step.content {
			t.Errorf("step %d: file holds %q (%v), want %q", i, got, err, step.content)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s (no temporary files left)", names, ConfListName)
	}
}
