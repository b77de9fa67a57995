// Package cli implements metroctl's command tree: the operator's commands for contexts
// (config), the cluster as a whole (cluster) and its nodes (node), with their flags, output
// formats, error messages and shell completion. cmd/metroctl only calls App.Run.
//
// It owns what a person sees: argument parsing, tables and JSON/YAML output, the
// trust-on-first-use prompt, and turning gRPC errors into sentences that say which call on
// which node failed and why. It does not own the configuration files (metroctl/config) or
// how connections are made (metroctl/connect), and it implements no server.
//
// Everything a command needs from outside (standard streams, environment, the node management
// port) comes from App, so that tests run the real commands against a fake cluster in the
// same process.
package cli
