package image

import (
	"context"
	"flag"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/qemu"
)

// built is the image built once for all tests; nil if they skip (skip says why).
var (
	built *mkimage.Result
	skip  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if skip = unsupportedReason(); skip != "" {
		log.Printf("image tests: every test skips: %s", skip)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "metropolis-image-test-")
	if err != nil {
		log.Print(err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	log.Printf("image tests: building the node image into %s", dir)
	built, err = mkimage.Build(context.Background(), mkimage.Options{OutDir: filepath.Join(dir, "image")})
	if err != nil {
		log.Printf("image tests: build: %v", err)
		return 1
	}
	log.Printf("image tests: image built in %.0fs; booting it", time.Since(start).Seconds())
	return m.Run()
}

func unsupportedReason() string {
	if testing.Short() {
		return "-short: image tests boot VMs and take minutes"
	}
	if err := qemu.CheckHost(); err != nil {
		return err.Error()
	}
	return ""
}

func requireImage(t *testing.T) {
	t.Helper()
	if skip != "" {
		t.Skip(skip)
	}
}
