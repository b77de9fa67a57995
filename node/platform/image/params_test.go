package image

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestReadParametersTakesTheFirstSourceAndNamesBadOnes(t *testing.T) {
	dir := t.TempDir()
	pub, _, _ := ed25519.GenerateKey(nil)
	good, err := proto.Marshal(&apb.NodeParameters{Cluster: &apb.NodeParameters_ClusterBootstrap{
		ClusterBootstrap: &apb.ClusterBootstrap{OwnerPublicKey: pub},
	}})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodFile, badFile, missing := write("good.pb", good), write("bad.pb", []byte{0xff, 0xff}), filepath.Join(dir, "none")

	if p, err := readParameters([]string{missing, goodFile}); err != nil || p.GetClusterBootstrap() == nil {
		t.Errorf("missing then good: %v, %v; want the good parameters", p, err)
	}
	if p, err := readParameters([]string{missing}); err != nil || p != nil {
		t.Errorf("no source: %v, %v; want nil, nil", p, err)
	}
	if _, err := readParameters([]string{badFile, goodFile}); err == nil || !strings.Contains(err.Error(), "bad.pb") {
		t.Errorf("bad then good: error %v; want one naming bad.pb (no silent fallback)", err)
	}
}
