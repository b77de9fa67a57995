// Package launchcmd holds `metroctl cluster launch` and `metroctl cluster destroy`: starting a
// local cluster of QEMU VMs (package launch/qemu) or hosted processes (package launch/hosted)
// and making it the current metroctl context, and tearing one down again.
//
// They live here rather than in metroctl/cli because they need a Linux host (network
// namespaces, bridges, taps, QEMU) while metroctl must build for an operator's macOS or
// Windows laptop. cmd/metroctl adds them to the command tree on Linux builds only
// (cli.App.ClusterCommands); metroctl's own packages never import package launch, and launch
// imports metroctl only for its contexts and command tree.
package launchcmd
