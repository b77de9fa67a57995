package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"metropolis.dev/metropolis/launch/hosted"
	"metropolis.dev/metropolis/metroctl/config"
)

// clusterDir is where a local cluster launched by metroctl keeps its nodes' state and logs.
func clusterDir(st *config.Store, name string) string {
	return filepath.Join(st.Dir(), "clusters", name)
}

func (s *session) launchCommand() *cobra.Command {
	var (
		name       string
		nodes      int
		isHosted   bool
		nodeBinary string
	)
	cmd := &cobra.Command{
		Use:   "launch --hosted [--nodes N] [--name NAME]",
		Short: "Start a local cluster and make it the current context",
		Long: "Start a local cluster: bootstrap the first node, take ownership, register and approve\n" +
			"the others, and make the first three consensus members. Returns when every node is UP\n" +
			"and healthy, leaving the cluster running with NAME as the current context.\n\n" +
			"--hosted runs each node as a process in its own network namespace (needs root).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !isHosted {
				return errors.New("only hosted clusters can be launched yet (pass --hosted); clusters of QEMU VMs come with the node image")
			}
			st, err := s.store()
			if err != nil {
				return err
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
	cmd.Flags().IntVar(&nodes, "nodes", 3, "number of nodes")
	cmd.Flags().BoolVar(&isHosted, "hosted", false, "run nodes as processes in network namespaces")
	cmd.Flags().StringVar(&nodeBinary, "node-binary", "", "the metropolis-node program (default: beside metroctl)")
	return cmd
}

func (s *session) destroyCommand() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "destroy [--name NAME]",
		Short: "Stop a local cluster and delete its nodes' state and its context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := s.store()
			if err != nil {
				return err
			}
			c, err := hosted.Load(clusterDir(st, name))
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
