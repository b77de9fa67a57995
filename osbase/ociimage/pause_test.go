package ociimage

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// How build/mkimage makes the pod sandbox image: build the static binary, write the
// archive. The test checks what containerd would see.
func TestPauseImageFromGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/pause")
	}
	bin := filepath.Join(t.TempDir(), "pause")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", bin, "../../cmd/pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pause: %v\n%s", err, out)
	}
	info, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	img := Image{
		Name:       "metropolis.dev/pause:v1",
		Files:      []File{{Path: "/pause", Mode: 0o755, HostPath: bin}},
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
	}
	var archive bytes.Buffer
	if err := Write(&archive, img); err != nil {
		t.Fatal(err)
	}
	s, err := Inspect(bytes.NewReader(archive.Bytes()))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if s.Images[0].Name != img.Name {
		t.Errorf("image is called %q, want %q", s.Images[0].Name, img.Name)
	}
	entries := readLayer(t, archive.Bytes())
	want := layerEntry{"pause", '0', 0o755, 0, 0, info.Size(), 0}
	if len(entries) != 1 || entries[0] != want {
		t.Fatalf("layer has %+v, want only %+v", entries, want)
	}
	t.Logf("pause binary %d bytes, archive %d bytes, manifest %s", info.Size(), archive.Len(), s.Images[0].Manifest)
}
