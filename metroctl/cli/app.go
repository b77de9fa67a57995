package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"metropolis.dev/metropolis/metroctl/config"
	"metropolis.dev/metropolis/node/ports"
)

// App is one metroctl invocation's environment.
type App struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads environment variables (METROCTL_CONFIG_DIR, XDG_CONFIG_HOME, HOME, and
	// VISUAL and EDITOR for `config edit`).
	Getenv func(string) string
	// NodeManagementPort is the port of a node's management service, dialed at the address
	// the node reports.
	NodeManagementPort int
	// Location is the time zone log timestamps are shown in.
	Location *time.Location
	// ClusterCommands, if set, returns subcommands of `metroctl cluster` that this build adds
	// beyond the API's: cmd/metroctl adds `launch` and `destroy` of local clusters on Linux
	// (package launch/launchcmd), which metroctl itself does not import, so that it builds for
	// an operator's macOS or Windows laptop. They work in the store of the invocation.
	ClusterCommands func(store StoreFunc) []*cobra.Command
}

// StoreFunc opens the configuration store an invocation's flags and environment choose.
type StoreFunc func() (*config.Store, error)

// NewApp returns an App on the process's standard streams and environment.
func NewApp() *App {
	return &App{
		Stdin:              os.Stdin,
		Stdout:             os.Stdout,
		Stderr:             os.Stderr,
		Getenv:             os.Getenv,
		NodeManagementPort: int(ports.NodeManagement),
		Location:           time.Local,
	}
}

// Run runs metroctl with args (without the program name) and returns the process exit code:
// 0 on success, 1 on any error, which is printed to Stderr.
func (a *App) Run(ctx context.Context, args []string) int {
	root := a.RootCommand()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(a.Stderr, "metroctl: %v\n", err)
		return 1
	}
	return 0
}

// session holds the global flags of one command line; every command reads them through it.
type session struct {
	app         *App
	configDir   string
	contextName string
	timeout     time.Duration
}

// RootCommand builds the command tree. Each call returns a fresh tree with its own flag
// values.
func (a *App) RootCommand() *cobra.Command {
	s := &session{app: a}
	root := &cobra.Command{
		Use:   "metroctl",
		Short: "Manage Metropolis clusters",
		Long: "metroctl manages Metropolis clusters and their nodes through the cluster's API.\n\n" +
			"It works on named contexts (see 'metroctl config'), each holding a cluster's\n" +
			"endpoints, its pinned CA and the owner's credentials.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())
	})
	flags := root.PersistentFlags()
	flags.StringVar(&s.configDir, "config-dir", "", "configuration directory (default $METROCTL_CONFIG_DIR, $XDG_CONFIG_HOME/metroctl or ~/.config/metroctl)")
	flags.StringVar(&s.contextName, "context", "", "context to use instead of the current one")
	flags.DurationVar(&s.timeout, "timeout", 30*time.Second, "how long a command may take talking to the cluster")
	mustRegisterCompletion(root, "context", s.completeContextNames)

	root.AddCommand(s.configCommand(), s.clusterCommand(), s.nodeCommand(), s.k8sCommand(), s.metricsCommand())
	return root
}

// store opens the configuration directory chosen by --config-dir or the environment.
func (s *session) store() (*config.Store, error) {
	if s.configDir != "" {
		return config.NewStore(s.configDir), nil
	}
	dir, err := config.DefaultDir(s.app.Getenv)
	if err != nil {
		return nil, err
	}
	return config.NewStore(dir), nil
}

// loadContext loads the context named by --context, or the current one.
func (s *session) loadContext() (*config.Context, error) {
	st, err := s.store()
	if err != nil {
		return nil, err
	}
	return st.Resolve(s.contextName)
}

// timed bounds ctx by --timeout.
func (s *session) timed(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.timeout)
}
