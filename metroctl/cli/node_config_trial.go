package cli

// Trials of a node's configuration: `node config apply|edit --try` stores a change the node
// goes back from by itself unless it is confirmed (`node config confirm`), which the cluster
// allows only once the node has reported, through the cluster, that it runs the change. A
// change that cuts the node off (a wrong address, route or MTU) thus undoes itself.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/metroctl/connect"
	"metropolis.dev/metropolis/node/identity"
)

// The bounds of --try, the API's (ConfigureNodeRequest.try_duration): checked here too so
// that a wrong value is refused before an editor opens or anything is sent.
const (
	minTryDuration = 10 * time.Second
	maxTryDuration = time.Hour
)

const (
	// trialPollInterval is how often apply --try looks at the node's report while it waits,
	// saying each time how long is left.
	trialPollInterval = 3 * time.Second
	// trialLookTimeout bounds one look, so that an unanswered one does not hold back the
	// next progress line for long.
	trialLookTimeout = 5 * time.Second
)

// trialHelp describes --try and --confirm.
const trialHelp = "With --try DURATION (10s to 1h) the change is a trial: the node applies it, and goes back\n" +
	"to its stored configuration by itself unless the trial is confirmed within DURATION. The\n" +
	"cluster confirms a trial only once the node has reported, through the cluster, that it runs\n" +
	"it, so a change that cuts the node off from the cluster (a wrong address, route or MTU)\n" +
	"undoes itself. Having stored the trial, the command waits up to DURATION for that report;\n" +
	"then --confirm confirms the trial at once, and without it the command prints how to\n" +
	"(`metroctl node config confirm NODE --version N`). While a trial runs, the node's\n" +
	"configuration does not change otherwise."

var (
	errConfirmWithoutTry = errors.New("--confirm confirms a trial, and needs --try")
	errNoTrials          = errors.New("this cluster does not support trying a configuration (--try)")
	errTrialNotReported  = errors.New("the node did not report the trial")
)

// trialFlags are --try and --confirm of one command.
type trialFlags struct {
	try     tryFlag
	confirm bool
}

func (t *trialFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().Var(&t.try, "try", "make the change a trial the node goes back from by itself unless confirmed within this long (10s to 1h), and wait for the node to report it")
	cmd.Flags().BoolVar(&t.confirm, "confirm", false, "with --try: confirm the trial as soon as the node reports it runs it")
}

// tryFlag is the value of --try, checked as it is parsed, so that the error names the flag.
type tryFlag struct {
	d time.Duration
}

func (f *tryFlag) String() string {
	if f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f *tryFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 90s or 5m")
	}
	if d < minTryDuration || d > maxTryDuration {
		return fmt.Errorf("want %v to %v", minTryDuration, maxTryDuration)
	}
	f.d = d
	return nil
}

func (*tryFlag) Type() string { return "duration" }

// checkTrialsServed makes sure the cluster serves trials before one is asked for: a curator
// of a release without them ignores try_duration and would store the configuration for good.
// It asks to confirm version 0, which no trial has (a trial's version is the stored one plus
// one), so the call changes nothing: a cluster with trials refuses it, one without answers
// Unimplemented. Any other failure is left for ConfigureNode to meet and report.
func checkTrialsServed(ctx context.Context, mgmt apb.ManagementClient, id string) error {
	_, err := mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: id, Version: 0})
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("%w; nothing was changed. Apply the change without --try, or update the cluster first", errNoTrials)
	}
	return nil
}

// followTrial waits until the node reports it runs the trial w stored, then confirms it with
// --confirm, or says how to.
func (s *session) followTrial(ctx context.Context, progress, out io.Writer, subject configSubject, w *written) error {
	n := subject.(nodeConfig)
	t := w.trial
	expires := changedTime(t.GetExpires()).UTC().Format(time.RFC3339)
	// A new trial runs for its duration from now. One stored earlier (the same change
	// applied again) has less left: until it expires, by this machine's clock.
	wait := t.GetDuration().AsDuration()
	if !w.changed {
		wait = max(0, min(wait, time.Until(changedTime(t.GetExpires()))))
	}
	look := func(ctx context.Context) (*apb.NodeConfigurationStatus, error) { return s.nodeConfigStatus(ctx, n.id) }
	seen, err := waitForTrialReport(ctx, progress, n.id, t.GetVersion(), wait, trialPollInterval, look)
	if errors.Is(err, errTrialNotReported) {
		return fmt.Errorf("node %s did not report running trial version %d within %s (last: %s), so the trial cannot be confirmed; "+
			"the node goes back to version %d by itself when the trial expires (%s)", n.id, t.GetVersion(), wait.Round(time.Second), seen, w.version, expires)
	}
	if err != nil {
		return fmt.Errorf("wait for node %s to report trial version %d: %w; the node goes back to version %d by itself at %s unless the trial is confirmed (%s --version %d)",
			n.id, t.GetVersion(), err, w.version, expires, n.command("confirm"), t.GetVersion())
	}
	fmt.Fprintf(out, "Node %s runs configuration version %d and reaches the cluster with it.\n", n.id, t.GetVersion())
	if !n.confirm {
		fmt.Fprintf(out, "It goes back to version %d by itself when the trial expires at %s, unless it is confirmed before:\n  %s --version %d\n",
			w.version, expires, n.command("confirm"), t.GetVersion())
		return nil
	}
	ctx, cancel := s.timed(ctx)
	defer cancel()
	mgmt, done, err := s.management(ctx)
	if err != nil {
		return explain(confirmAction(n.id), err)
	}
	defer done()
	return confirmTrial(ctx, mgmt, out, n.id, t.GetVersion())
}

// waitForTrialReport looks at the node's report every interval, through look, until it says
// the node runs trial version, for at most wait, and says on progress how long is left and
// what the node reports meanwhile. After wait it returns errTrialNotReported and the last
// thing seen.
func waitForTrialReport(ctx context.Context, progress io.Writer, id string, version uint64, wait, interval time.Duration, look func(context.Context) (*apb.NodeConfigurationStatus, error)) (string, error) {
	deadline := time.Now().Add(wait)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	seen := "no answer yet"
	for {
		lctx, lcancel := context.WithTimeout(ctx, trialLookTimeout)
		cs, err := look(lctx)
		lcancel()
		switch {
		case err == nil && cs.GetTrialVersion() == version:
			return reportText(cs), nil
		case err == nil:
			seen = reportText(cs)
		case ctx.Err() == nil:
			// The look failed, not the wait: the node may be the one answering for the
			// cluster, and be changing its network.
			seen = "the cluster did not answer: " + connect.Reason(err)
		}
		if ctx.Err() == nil {
			fmt.Fprintf(progress, "waiting for node %s to report trial version %d (%s left; %s)\n", id, version, time.Until(deadline).Round(time.Second), seen)
			select {
			case <-ctx.Done():
			case <-time.After(interval):
				continue
			}
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return seen, errTrialNotReported
		}
		return seen, ctx.Err()
	}
}

// reportText is what a node reports of its configuration, e.g. "it follows version 3, trial
// version 4".
func reportText(cs *apb.NodeConfigurationStatus) string {
	if cs == nil {
		return "it reports nothing of its configuration"
	}
	text := fmt.Sprintf("it follows version %d", cs.GetNodeVersion())
	if v := cs.GetTrialVersion(); v != 0 {
		text += fmt.Sprintf(", trial version %d", v)
	}
	if r := cs.GetReverted(); r != "" {
		text += "; it last went back from a trial: " + r
	}
	return text
}

// nodeConfigStatus returns what the node last reported of its configuration, over a
// connection of its own: the node may be the one the last connection went through, and
// changing its network.
func (s *session) nodeConfigStatus(ctx context.Context, id string) (*apb.NodeConfigurationStatus, error) {
	mgmt, done, err := s.management(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		return nil, err
	}
	return n.GetStatus().GetConfiguration(), nil
}

// confirmAction is what confirming says it did when it fails, in the curator's words, so that
// explain does not repeat them.
func confirmAction(id string) string { return "confirm the configuration of node " + id }

// confirmTrial confirms trial version of node id and says so.
func confirmTrial(ctx context.Context, mgmt apb.ManagementClient, out io.Writer, id string, version uint64) error {
	res, err := mgmt.ConfirmNodeConfiguration(ctx, &apb.ConfirmNodeConfigurationRequest{NodeId: id, Version: version})
	if err != nil {
		return explain(confirmAction(id), err)
	}
	fmt.Fprintf(out, "Confirmed: node %s keeps configuration version %d.\n", id, res.GetStored().GetVersion())
	return nil
}

func (s *session) nodeConfigConfirmCommand() *cobra.Command {
	var version uint64
	cmd := &cobra.Command{
		Use:   "confirm NODE [--version N]",
		Short: "Keep the configuration a node tries (apply or edit --try)",
		Long: "Makes the trial a node runs (`metroctl node config apply|edit NODE --try DURATION`) its\n" +
			"configuration, so that it does not go back. The cluster refuses unless the node has\n" +
			"reported, through the cluster, that it runs the trial, and the trial has not expired.\n" +
			"Without --version it confirms the trial stored now; with it, only that version, which\n" +
			"keeps a trial someone else stored meanwhile from being confirmed by mistake. Confirming\n" +
			"a version already confirmed changes nothing and is no error.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			if cmd.Flags().Changed("version") && version == 0 {
				return errors.New("--version 0: want the trial's version, 1 or more")
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain(confirmAction(id), err)
			}
			defer done()
			if version == 0 {
				res, err := mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: id})
				if err != nil {
					return explain("read the configuration of node "+id, err)
				}
				t := res.GetStored().GetTrial()
				if t == nil {
					return fmt.Errorf("node %s has no trial configuration; its version is %d", id, res.GetStored().GetVersion())
				}
				version = t.GetVersion()
			}
			return confirmTrial(ctx, mgmt, cmd.OutOrStdout(), id, version)
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "the trial's version (default: the node's trial now)")
	return cmd
}

// trialText is the node's trial for `node describe`, as the cluster stores it (stored, nil if
// unknown; readErr why it could not be read) and as the node reports it (cs); "" if there is
// none.
func trialText(stored *apb.StoredNodeConfiguration, readErr error, cs *apb.NodeConfigurationStatus) string {
	t := stored.GetTrial()
	running := cs.GetTrialVersion()
	switch {
	case t != nil:
		text := fmt.Sprintf("version %d, expires %s", t.GetVersion(), changedTime(t.GetExpires()).UTC().Format(time.RFC3339))
		switch {
		case running == t.GetVersion():
			return text + "; the node runs it"
		case cs == nil:
			return text + "; the node reports nothing of it"
		}
		return text + "; the node has not reported it yet"
	case readErr != nil && running != 0:
		return fmt.Sprintf("version %d, the node runs it (the stored configuration could not be read: %s)", running, connect.Reason(readErr))
	case readErr != nil:
		return "unknown: the stored configuration could not be read: " + connect.Reason(readErr)
	case running != 0:
		return fmt.Sprintf("version %d, the node runs it; the cluster keeps it no more (confirmed, or expired and the node goes back)", running)
	}
	return ""
}

// revertedText is what became of the node's last reverted trial, on one line.
func revertedText(cs *apb.NodeConfigurationStatus) string {
	return strings.Join(strings.Fields(cs.GetReverted()), " ")
}
