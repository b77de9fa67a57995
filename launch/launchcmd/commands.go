package launchcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"metropolis.dev/metropolis/launch/hosted"
	"metropolis.dev/metropolis/launch/qemu"
	"metropolis.dev/metropolis/metroctl/cli"
	"metropolis.dev/metropolis/metroctl/config"
)

// Commands returns `metroctl cluster launch` and `metroctl cluster destroy`, working in the
// configuration store that store opens (the one metroctl's --config-dir and environment
// choose). cmd/metroctl adds them on Linux (cli.App.ClusterCommands).
func Commands(store cli.StoreFunc) []*cobra.Command {
	return []*cobra.Command{launchCommand(store), destroyCommand(store)}
}

// clusterDir is where a local cluster launched by metroctl keeps its nodes' state and logs.
func clusterDir(st *config.Store, name string) string {
	return filepath.Join(st.Dir(), "clusters", name)
}

func launchCommand(store cli.StoreFunc) *cobra.Command {
	var (
		name        string
		nodes       int
		isHosted    bool
		attestation bool
		nodeBinary  string
		image       string
		cpus        int
		memoryMiB   int
		workers     []int
	)
	cmd := &cobra.Command{
		Use:   "launch (--image DISK.img | --hosted) [--nodes N] [--name NAME]",
		Short: "Start a local cluster and make it the current context",
		Long: "Start a local cluster: bootstrap the first node, take ownership, register and approve\n" +
			"the others, and make the first three consensus members. Returns when every node is UP\n" +
			"and healthy, leaving the cluster running with NAME as the current context. Needs root.\n\n" +
			"By default each node is a QEMU VM booting the node image given with --image (UEFI\n" +
			"firmware, its own software TPM, a copy-on-write overlay of the image), on a private\n" +
			"bridge the host reaches every node through. Without a working /dev/kvm (the launcher\n" +
			"boots the firmware under KVM once to find out) the CPU is emulated and a boot takes a\n" +
			"minute or more.\n\n" +
			"The cluster's shape fits the host unless flags say otherwise, and is shown first: under\n" +
			"KVM (or with a core per vCPU) 2 vCPUs per VM and pods on every node; emulated on fewer\n" +
			"cores one vCPU per VM and pods on node 2 only, so the VMs do not starve each other.\n\n" +
			"--hosted runs each node as a process in its own network namespace instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store()
			if err != nil {
				return err
			}
			if !isHosted {
				if image == "" {
					image = defaultImage()
				}
				shape := qemu.ChooseShape(qemu.ThisHost(), nodes)
				fmt.Fprintf(cmd.OutOrStdout(), "cluster shape: %s\n", shape.Why)
				flags := cmd.Flags()
				if flags.Changed("cpus") {
					shape.CPUs = cpus
				}
				if flags.Changed("memory") {
					shape.MemoryMiB = memoryMiB
				}
				if flags.Changed("workers") {
					shape.Workers = workers
				}
				_, err = qemu.Launch(cmd.Context(), qemu.Options{
					Name: name, Nodes: shape.Nodes, Image: image, Dir: clusterDir(st, name),
					Contexts: st, CPUs: shape.CPUs, MemoryMiB: shape.MemoryMiB, Workers: shape.Workers,
					Progress: cmd.OutOrStdout(), RequireAttestation: attestation,
				})
				return err
			}
			if nodes == 0 {
				nodes = 3
			}
			if nodeBinary == "" {
				if nodeBinary, err = siblingBinary("metropolis-node"); err != nil {
					return err
				}
			}
			_, err = hosted.Launch(cmd.Context(), hosted.Options{
				Name: name, Nodes: nodes, NodeBinary: nodeBinary, Dir: clusterDir(st, name),
				Contexts: st, Progress: cmd.OutOrStdout(),
			})
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "local", "name of the cluster and of its metroctl context")
	cmd.Flags().IntVar(&nodes, "nodes", 0, "number of nodes (default 3)")
	cmd.Flags().BoolVar(&isHosted, "hosted", false, "run nodes as processes in network namespaces instead of VMs")
	cmd.Flags().StringVar(&nodeBinary, "node-binary", "", "with --hosted: the metropolis-node program (default: beside metroctl)")
	cmd.Flags().StringVar(&image, "image", "", "the node disk image the VMs boot, built by cmd/mkimage (default: ../image/disk.img from metroctl's directory, where scripts/launch builds it, if it exists)")
	cmd.Flags().IntVar(&cpus, "cpus", qemu.DefaultCPUs, "CPUs per VM (default: chosen for this host, see below)")
	cmd.Flags().IntVar(&memoryMiB, "memory", qemu.DefaultMemoryMiB, "memory per VM, in MiB (default: chosen for this host)")
	cmd.Flags().IntSliceVar(&workers, "workers", nil, "nodes (numbered from 1) that run pods (default: chosen for this host)")
	cmd.MarkFlagsMutuallyExclusive("hosted", "image")
	cmd.MarkFlagsMutuallyExclusive("hosted", "cpus")
	cmd.MarkFlagsMutuallyExclusive("hosted", "memory")
	cmd.Flags().BoolVar(&attestation, "attestation", false, "require TPM attestation of every node (docs/attestation.md): the cluster trusts its own TPM vendor CA and the release it is launched with")
	cmd.MarkFlagsMutuallyExclusive("hosted", "workers")
	cmd.MarkFlagsMutuallyExclusive("hosted", "attestation")
	cmd.MarkFlagsMutuallyExclusive("node-binary", "image")
	return cmd
}

func destroyCommand(store cli.StoreFunc) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "destroy [--name NAME]",
		Short: "Stop a local cluster and delete its nodes' state and its context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store()
			if err != nil {
				return err
			}
			c, err := loadLocalCluster(clusterDir(st, name))
			if err != nil {
				return fmt.Errorf("no local cluster %q: %w", name, err)
			}
			if err := c.Destroy(); err != nil {
				return err
			}
			if err := st.DeleteContext(name); err != nil && !errors.Is(err, config.ErrNoSuchContext) {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Destroyed cluster %q.\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "local", "name of the cluster")
	return cmd
}

// localCluster is a cluster launched on this machine, of either kind.
type localCluster interface{ Destroy() error }

// loadLocalCluster loads the cluster of VMs or hosted nodes in dir, telling them apart by the
// record each launcher keeps there.
func loadLocalCluster(dir string) (localCluster, error) {
	if qemu.IsCluster(dir) {
		return qemu.Load(dir)
	}
	return hosted.Load(dir)
}

// defaultImage is the node image in the build tree metroctl was built into (out/bin/metroctl,
// out/image/disk.img), or "" if there is none.
func defaultImage() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	path := filepath.Join(filepath.Dir(self), "..", "image", "disk.img")
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return filepath.Clean(path)
}

// siblingBinary finds a program installed beside metroctl.
func siblingBinary(name string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(self), name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found beside metroctl (%s); pass --node-binary", name, path)
	}
	return path, nil
}
