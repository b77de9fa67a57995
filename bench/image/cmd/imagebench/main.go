// Command imagebench measures the node image: its build time with a warm cache, its sizes,
// and, booting it in QEMU (TCG without /dev/kvm), the time from starting the VM to PID 1 and
// to the curator API serving, on the first boot (which creates and formats the encrypted data
// partition) and on a later one (which unseals and unlocks it). It prints a Markdown section
// for docs/benchmarks.md. Needs root (the VM's bridge and tap):
//
//	go run ./bench/image/cmd/imagebench [-kube out/bin/kube]
//
// Progress goes to stderr, the report to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"metropolis.dev/metropolis/build/mkimage"
	"metropolis.dev/metropolis/launch/netns"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/ports"
)

// clusterName is short (launch/netns allows 8 characters) and distinct from what tests use.
const clusterName = "imgbench"

func main() {
	kube := flag.String("kube", "", "Kubernetes multicall binary to include (scripts/build-kube), to measure the image with Kubernetes")
	flag.Parse()
	if err := run(*kube); err != nil {
		fmt.Fprintf(os.Stderr, "imagebench: %v\n", err)
		os.Exit(1)
	}
}

func run(kube string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "imagebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// A first build warms the cache (kernel package, Go build cache); the second is measured.
	opts := mkimage.Options{OutDir: filepath.Join(dir, "image"), KubeBinary: kube}
	if _, err := mkimage.Build(ctx, opts); err != nil {
		return err
	}
	start := time.Now()
	img, err := mkimage.Build(ctx, opts)
	if err != nil {
		return err
	}
	buildTime := time.Since(start)

	store := config.NewStore(filepath.Join(dir, "metroctl"))
	subnet := netns.SubnetFor(clusterName)
	endpoint := net.JoinHostPort(subnet.Addr().Next().Next().String(), strconv.Itoa(int(ports.Curator)))
	clusterDir := filepath.Join(dir, "cluster")
	console := filepath.Join(clusterDir, "node1", "console.log")

	first := watchBoot(ctx, console, endpoint, 1)
	c, err := qemu.Launch(ctx, qemu.Options{Name: clusterName, Nodes: 1, Image: img.ImagePath, Dir: clusterDir, Contexts: store, Progress: os.Stderr})
	if c != nil {
		defer func() {
			if err := c.Destroy(); err != nil {
				fmt.Fprintf(os.Stderr, "imagebench: destroy the benchmark's cluster: %v\n", err)
			}
		}()
	}
	if err != nil {
		return err
	}
	firstBoot := <-first
	if firstBoot.err != nil {
		return firstBoot.err
	}

	if err := c.KillNode(1, false); err != nil {
		return err
	}
	later := watchBoot(ctx, console, endpoint, 2)
	if err := c.StartNode(1); err != nil {
		return err
	}
	laterBoot := <-later
	if laterBoot.err != nil {
		return laterBoot.err
	}

	fmt.Printf("## Node image (`go run ./bench/image/cmd/imagebench%s`)\n\n", map[bool]string{true: " -kube out/bin/kube", false: ""}[kube != ""])
	fmt.Printf("Kernel %s; Kubernetes included: %v; QEMU accelerator: %s.\n\n", img.KernelVersion, kube != "", accel())
	fmt.Println("| measure | value |")
	fmt.Println("| --- | --- |")
	fmt.Printf("| system partition, compressed (erofs lz4hc) | %.1f MiB (+ %.1f MiB verity hash tree) |\n", mib(img.ErofsSize), mib(img.SystemSize-img.ErofsSize))
	fmt.Printf("| unified kernel image (kernel + initramfs) | %.1f MiB |\n", mib(img.UKISize))
	fmt.Printf("| image build, warm cache | %.1f s |\n", buildTime.Seconds())
	for _, b := range []struct {
		name string
		t    bootTimes
	}{{"first boot (creates and formats the data partition)", firstBoot}, {"later boot (unseals and unlocks)", laterBoot}} {
		fmt.Printf("| %s: VM start to PID 1 | %.1f s |\n", b.name, b.t.pid1.Seconds())
		fmt.Printf("| %s: VM start to curator API serving | %.1f s |\n", b.name, b.t.curator.Seconds())
	}
	fmt.Printf("\nBuild steps (warm): ")
	var steps []string
	for _, s := range img.Steps {
		steps = append(steps, fmt.Sprintf("%s %.1f s", s.Name, s.Duration.Seconds()))
	}
	fmt.Println(strings.Join(steps, "; ") + ".")
	return nil
}

type bootTimes struct {
	pid1, curator time.Duration
	err           error
}

// watchBoot measures, from now, until the console shows PID 1 starting for the nth time and
// then until the curator at endpoint hands out its CA certificate.
func watchBoot(ctx context.Context, console, endpoint string, nth int) <-chan bootTimes {
	out := make(chan bootTimes, 1)
	start := time.Now()
	go func() {
		var t bootTimes
		deadline := start.Add(10 * time.Minute)
		for t.pid1 == 0 {
			if time.Now().After(deadline) {
				out <- bootTimes{err: fmt.Errorf("no PID 1 on %s after 10 minutes", console)}
				return
			}
			data, _ := os.ReadFile(console)
			if strings.Count(string(data), "metropolis-node: PID 1 starting") >= nth {
				t.pid1 = time.Since(start)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for {
			if time.Now().After(deadline) {
				out <- bootTimes{err: fmt.Errorf("no curator at %s after 10 minutes", endpoint)}
				return
			}
			attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := connect.FetchCA(attempt, []string{endpoint})
			cancel()
			if err == nil {
				t.curator = time.Since(start)
				out <- t
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	return out
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func accel() string {
	if a := qemu.HostAccel(); !a.KVM {
		return "TCG (" + a.Reason + ")"
	}
	return "KVM"
}
