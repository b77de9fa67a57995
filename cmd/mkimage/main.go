// Command mkimage builds a Metropolis node disk image (see build/mkimage):
//
//	go run ./cmd/mkimage -out out/image
//
// and prints what it built: the image, its partitions' offsets, the verity parameters and
// the sizes of the parts.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/node/update/bundle"
)

func main() {
	var opts mkimage.Options
	var size, parameters, cmdline string
	flag.StringVar(&opts.OutDir, "out", "out/image", "output directory")
	flag.StringVar(&opts.CacheDir, "cache", "", "kernel package cache (default: <repository>/out/cache)")
	flag.StringVar(&opts.InitBinary, "init", "", "prebuilt stage 1 binary (default: go build ./cmd/metropolis-init)")
	flag.StringVar(&opts.NodeBinary, "node", "", "prebuilt node binary (default: go build ./cmd/metropolis-node)")
	flag.StringVar(&opts.KubeBinary, "kube", "", "Kubernetes multicall binary (scripts/build-kube) to put on the system partition; default: none")
	flag.StringVar(&opts.RuntimeDir, "runtime", "", "Kubernetes worker runtime (scripts/build-runtime's output directory) to put on the system partition, with -kube; default: none")
	flag.StringVar(&opts.KernelDeb, "kernel-deb", "", "kernel .deb to use instead of apt-get download (must match the pinned SHA-256)")
	flag.StringVar(&parameters, "parameters", "", "node parameters file (binary NodeParameters) to put on the ESP")
	flag.StringVar(&size, "size", "4G", "disk image size (bytes, or with suffix M or G)")
	flag.StringVar(&cmdline, "cmdline", "", "extra kernel command line arguments")
	flag.StringVar(&opts.Version, "version", "dev", "the release's version (printable ASCII, at most 64 characters)")
	var releaseKeys stringList
	flag.Var(&releaseKeys, "release-pubkey", "release public key (PEM ed25519) whose bundles the image's nodes install; repeat for several (default: none, so nodes refuse updates)")
	flag.StringVar(&opts.BundlePath, "bundle", "", "also write the release's signed update bundle to this file (needs -release-key)")
	signingKey := flag.String("release-key", "", "release private key (PEM ed25519) that signs the bundle; it never goes into the image")
	genkey := flag.String("genkey", "", "make a release key pair PREFIX.key and PREFIX.pub (for development; see README for real keys) and exit")
	hash := flag.Bool("sha256", false, "print the image's SHA-256 (to compare builds)")
	flag.Parse()
	if *genkey != "" {
		if err := writeKeyPair(*genkey); err != nil {
			fatalf("-genkey: %v", err)
		}
		return
	}

	var err error
	if opts.DiskSize, err = parseSize(size); err != nil {
		fatalf("-size: %v", err)
	}
	if parameters != "" {
		if opts.Parameters, err = os.ReadFile(parameters); err != nil {
			fatalf("-parameters: %v", err)
		}
	}
	opts.ExtraCmdline = strings.Fields(cmdline)
	for _, k := range releaseKeys {
		data, err := os.ReadFile(k)
		if err != nil {
			fatalf("-release-pubkey: %v", err)
		}
		opts.ReleaseKeys = append(opts.ReleaseKeys, data)
	}
	if (opts.BundlePath == "") != (*signingKey == "") {
		fatalf("-bundle and -release-key go together")
	}
	if *signingKey != "" {
		if opts.SigningKey, err = os.ReadFile(*signingKey); err != nil {
			fatalf("-release-key: %v", err)
		}
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	res, err := mkimage.Build(ctx, opts)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("image:          %s\n", res.ImagePath)
	fmt.Printf("kernel:         %s\n", res.KernelVersion)
	fmt.Printf("cmdline:        %s\n", res.Cmdline)
	fmt.Printf("partitions:     ESP at %d, system A at %d, system B at %d, data from %d\n",
		res.Partitions.ESPOffset, res.Partitions.SystemAOffset, res.Partitions.SystemBOffset, res.Partitions.DataOffset)
	fmt.Printf("system A:       erofs %d bytes (%d blocks), then hash tree, %d bytes in all\n",
		res.ErofsSize, res.Verity.DataBlocks, res.SystemSize)
	fmt.Printf("UKI:            %s, %d bytes\n", res.UKIPath, res.UKISize)
	fmt.Printf("direct boot:    -kernel %s -initrd %s\n", res.KernelPath, res.InitramfsPath)
	fmt.Printf("version:        %s\n", res.Version)
	if res.Bundle != nil {
		fmt.Printf("bundle:         %s, %d bytes, build %s\n", opts.BundlePath, res.BundleSize, res.Bundle.BuildId)
	}
	if *hash {
		sum, err := mkimage.ImageSHA256(res.ImagePath)
		if err != nil {
			fatalf("%v", err)
		}
		fmt.Printf("image SHA-256:  %s\n", sum)
	}
	for _, s := range res.Steps {
		fmt.Printf("  %-55s %s\n", s.Name, s.Duration.Round(1e7))
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// writeKeyPair writes a new release key pair to prefix.key (mode 0600) and prefix.pub.
func writeKeyPair(prefix string) error {
	priv, pub, err := bundle.GenerateKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".key", priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".pub", pub, 0o644); err != nil {
		return err
	}
	k, err := bundle.ParsePublicKey(pub)
	if err != nil {
		return err
	}
	fmt.Printf("release key %s: private %s.key, public %s.pub\n", bundle.KeyID(k), prefix, prefix)
	return nil
}

// parseSize parses 4294967296, 4096M or 4G.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return n * mult, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mkimage: "+format+"\n", args...)
	os.Exit(1)
}
