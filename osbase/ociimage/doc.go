// Package ociimage writes and checks OCI image-layout archives: the tarballs that containerd
// imports (`ctr images import`, or the client's Import) without a registry.
//
// Metropolis nodes pull nothing from the internet: the pod sandbox image (cmd/pause) and the
// test workload (cmd/testhttp) are our own static Go binaries, made into one-layer images at
// build time by Write and imported into containerd when the node starts. An operator may
// also hand a node an image tarball; Inspect checks one (every digest and size, index to
// manifest to config to layers, the linux/amd64 platform) before anything imports it, so it
// treats its input as untrusted: sizes are bounded and errors name the offending entry.
//
// Making an image from a binary (build/mkimage does this at build time):
//
//	go build -trimpath -ldflags='-s -w -buildid=' -o out/pause ./cmd/pause   # CGO_ENABLED=0
//
//	f, _ := os.Create("out/pause.tar")
//	err := ociimage.Write(f, ociimage.Image{
//		Name:       "metropolis.dev/pause:v1",
//		Files:      []ociimage.File{{Path: "/pause", Mode: 0o755, HostPath: "out/pause"}},
//		Entrypoint: []string{"/pause"},
//		User:       "65535:65535",
//	})
//
// The archive is byte-for-byte reproducible: the same inputs (and Go version, whose gzip
// encoder makes the layer) give the same bytes, hence the same image digest. It holds one
// linux/amd64 image with a single gzip'd layer: the given files owned by 0:0 with fixed
// times, and their parent directories (0755). index.json names the image with the
// annotations containerd reads: io.containerd.image.name (the full reference) and
// org.opencontainers.image.ref.name (the tag).
package ociimage
