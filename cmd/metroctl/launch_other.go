//go:build !linux

package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"metropolis.dev/metropolis/metroctl/cli"
)

// addLocalClusters names the commands a Linux build has, so that an operator who tries them on
// another system learns why they are missing rather than that they do not exist.
func addLocalClusters(app *cli.App) {
	app.ClusterCommands = func(cli.StoreFunc) []*cobra.Command {
		var cmds []*cobra.Command
		for _, name := range []string{"launch", "destroy"} {
			cmds = append(cmds, &cobra.Command{
				Use:                name,
				Short:              "Local clusters (needs metroctl built for Linux)",
				DisableFlagParsing: true,
				RunE: func(*cobra.Command, []string) error {
					return fmt.Errorf("cluster %s: local clusters need a Linux host (network namespaces, bridges, QEMU with taps); this metroctl is built for %s", name, runtime.GOOS)
				},
			})
		}
		return cmds
	}
}
