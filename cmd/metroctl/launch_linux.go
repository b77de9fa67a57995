package main

import (
	"metropolis.dev/metropolis/launch/launchcmd"
	"metropolis.dev/metropolis/metroctl/cli"
)

// addLocalClusters gives metroctl `cluster launch` and `cluster destroy`, which need Linux.
func addLocalClusters(app *cli.App) { app.ClusterCommands = launchcmd.Commands }
