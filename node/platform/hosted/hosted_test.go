package hosted

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestParametersNameWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shortKey, err := proto.Marshal(&apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterBootstrap{
		ClusterBootstrap: &apb.ClusterBootstrap{OwnerPublicKey: []byte("short")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{"missing file", filepath.Join(dir, "absent.pb"), "no such file"},
		{"not a protobuf", write("garbage.pb", []byte{0xff, 0xff, 0xff}), "not a NodeParameters protobuf"},
		{"owner key of the wrong length", write("short.pb", shortKey), "owner_public_key"},
		{"neither bootstrap nor register", write("empty.pb", nil), "cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(filepath.Join(dir, "state"), tc.file, "10.0.0.2", func() {})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Parameters(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parameters() error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	if _, err := New(t.TempDir(), "", "not-an-ip", func() {}); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("bad address: error = %v, want one naming the address", err)
	}
	if _, err := New("", "", "10.0.0.2", func() {}); err == nil {
		t.Error("empty state directory accepted")
	}
}

func TestRebootAndShutdownStopOnceAndSayWhich(t *testing.T) {
	stopped := 0
	p, err := New(t.TempDir(), "", "10.0.0.2", func() { stopped++ })
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Reboot(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(t.Context()); err == nil {
		t.Error("a second stop request was accepted")
	}
	if stopped != 1 || p.Stopping() != StopReboot {
		t.Errorf("stopped %d times, Stopping() = %v; want once, StopReboot", stopped, p.Stopping())
	}
}
