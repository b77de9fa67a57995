package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rollout"
)

// rolloutWatchRetry is how long `cluster update --watch` waits before asking again after the
// curator leader went away (the rollout moves on without it).
const rolloutWatchRetry = 3 * time.Second

func (s *session) clusterUpdateCommand() *cobra.Command {
	var force, watch bool
	var maxUnavailable int32
	var drainTimeout, nodeTimeout, wait time.Duration
	cmd := &cobra.Command{
		Use:   "update BUNDLE [--max-unavailable N] [--force] [--watch]",
		Short: "Move every node to the release in BUNDLE, node by node: a rollout the cluster runs itself",
		Long: "Uploads BUNDLE once to the curator leader's node, which checks it as a node would\n" +
			"(signed by a release key the nodes trust, every part as its manifest says) and keeps\n" +
			"it. The leader then stores a rollout plan in the cluster and carries it out whether\n" +
			"or not this command stays: consensus members one at a time, each only while every\n" +
			"other member is healthy, then Kubernetes controllers, then the other nodes\n" +
			"--max-unavailable at a time. Each node fetches the bundle from a node that has it,\n" +
			"installs it, reboots into it once and commits it when back in the cluster. A node\n" +
			"that rolls back, or is not back within --node-timeout, halts the rollout; the nodes\n" +
			"not yet updated stay on their release.\n\n" +
			"A cluster with fewer than three consensus members, an unhealthy member or a node that\n" +
			"is not up is refused: rebooting a member would stop etcd, and with it the Kubernetes\n" +
			"API and every cluster change, until the member is back. --force starts anyway.\n\n" +
			"Follow it with `cluster update status --watch`; pause, resume and abort it with the\n" +
			"commands of those names.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			size, err := checkBundleFile(path)
			if err != nil {
				return err
			}
			opts := &apb.RolloutOptions{MaxUnavailable: maxUnavailable, Force: force}
			if drainTimeout != 0 {
				opts.DrainTimeout = durationpb.New(drainTimeout)
			}
			if nodeTimeout != 0 {
				opts.NodeTimeout = durationpb.New(nodeTimeout)
			}
			if _, err := rollout.ValidOptions(opts); err != nil {
				return fmt.Errorf("flags: %w", err)
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("start a rollout", err)
			}
			defer done()
			r, err := uploadRollout(cmd.Context(), mgmt, path, size, opts, cmd.ErrOrStderr(), imageProgressInterval)
			if err != nil {
				return explain("start a rollout with "+path, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Rollout %s to release %s started; the cluster carries it out.\n", r.Id, r.Release.GetVersion())
			if err := writeRollout(out, r, time.Now()); err != nil {
				return err
			}
			if !watch {
				fmt.Fprintf(out, "Follow it with: metroctl cluster update status --watch\n")
				return nil
			}
			return s.watchRollout(cmd.Context(), cmd.ErrOrStderr(), out, r, wait)
		},
	}
	cmd.Flags().Int32Var(&maxUnavailable, "max-unavailable", 1, "how many nodes that are neither consensus members nor controllers may update at once")
	cmd.Flags().BoolVar(&force, "force", false, "start even if a consensus member's reboot loses quorum (fewer than three members, one unhealthy) or a node is not up")
	cmd.Flags().DurationVar(&drainTimeout, "drain-timeout", 0, "how long one node's drain may take before the rollout halts (default 10m)")
	cmd.Flags().DurationVar(&nodeTimeout, "node-timeout", 0, "how long one node may take to install, reboot and be back before the rollout halts (default 30m)")
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the rollout until it is done, halted or aborted")
	cmd.Flags().DurationVar(&wait, "wait", 6*time.Hour, "with --watch: how long to follow it at most")
	cmd.AddCommand(s.clusterUpdateStatusCommand(), s.clusterUpdateControlCommand(rollout.Pause), s.clusterUpdateControlCommand(rollout.Resume), s.clusterUpdateControlCommand(rollout.Abort))
	return cmd
}

// uploadRollout sends the bundle at path through one StartRollout call.
func uploadRollout(ctx context.Context, mgmt apb.ManagementClient, path string, size int64, opts *apb.RolloutOptions, progress io.Writer, interval time.Duration) (*apb.Rollout, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := mgmt.StartRollout(ctx)
	if err != nil {
		return nil, err
	}
	meta := &apb.StartRolloutMetadata{Size: size, Options: opts}
	stopReports, err := sendFile(path, size, progress, interval, "the curator leader is checking and keeping it",
		func() error {
			return stream.Send(&apb.StartRolloutRequest{Part: &apb.StartRolloutRequest_Metadata{Metadata: meta}})
		},
		func(chunk []byte) error {
			return stream.Send(&apb.StartRolloutRequest{Part: &apb.StartRolloutRequest_Chunk{Chunk: chunk}})
		})
	defer stopReports()
	if err != nil {
		return nil, err
	}
	return stream.CloseAndRecv()
}

func (s *session) clusterUpdateStatusCommand() *cobra.Command {
	var watch bool
	var wait time.Duration
	var output string
	cmd := &cobra.Command{
		Use:   "status [--watch] [-o table|json|yaml]",
		Short: "Show the latest rollout node by node; with --watch, follow it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutputFormat(output)
			if err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			r, err := s.latestRollout(ctx)
			if err != nil {
				return explain("get the latest rollout", err)
			}
			out := cmd.OutOrStdout()
			if format != outputTable {
				return writeProto(out, format, r)
			}
			if err := writeRollout(out, r, time.Now()); err != nil {
				return err
			}
			if !watch || rollout.Final(r.State) {
				return nil
			}
			return s.watchRollout(cmd.Context(), cmd.ErrOrStderr(), out, r, wait)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the rollout until it is done, halted or aborted")
	cmd.Flags().DurationVar(&wait, "wait", 6*time.Hour, "with --watch: how long to follow it at most")
	addOutputFlag(cmd, &output)
	return cmd
}

func (s *session) clusterUpdateControlCommand(c rollout.Command) *cobra.Command {
	var revision int64
	what := map[rollout.Command]string{
		rollout.Pause:  "Pause the latest rollout: nodes in the middle of their update finish it, no other starts",
		rollout.Resume: "Resume a paused or halted rollout; a failed node is tried again",
		rollout.Abort:  "Abort the latest rollout for good: no node starts any more, a node still draining is left as it was",
	}[c]
	command := map[rollout.Command]apb.RolloutCommand{
		rollout.Pause:  apb.RolloutCommand_ROLLOUT_COMMAND_PAUSE,
		rollout.Resume: apb.RolloutCommand_ROLLOUT_COMMAND_RESUME,
		rollout.Abort:  apb.RolloutCommand_ROLLOUT_COMMAND_ABORT,
	}[c]
	cmd := &cobra.Command{
		Use:   c.String() + " [--revision N]",
		Short: what,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if revision < 0 {
				return fmt.Errorf("--revision %d: a plan revision is 1 or more (0: whatever it is now)", revision)
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain(c.String()+" the rollout", err)
			}
			defer done()
			cur, err := latestRolloutFrom(ctx, mgmt)
			if err != nil {
				return explain("get the latest rollout", err)
			}
			r, err := mgmt.ControlRollout(ctx, &apb.ControlRolloutRequest{Id: cur.Id, Command: command, Revision: revision})
			if err != nil {
				return explain(fmt.Sprintf("%v rollout %s", c, cur.Id), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Rollout %s is %s (revision %d).\n", r.Id, rollout.StateWords(r.State), r.Revision)
			return nil
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "act only if the plan is still at this revision (as `status` showed it)")
	return cmd
}

// latestRollout asks the cluster for its latest rollout.
func (s *session) latestRollout(ctx context.Context) (*apb.Rollout, error) {
	mgmt, done, err := s.management(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return latestRolloutFrom(ctx, mgmt)
}

func latestRolloutFrom(ctx context.Context, mgmt apb.ManagementClient) (*apb.Rollout, error) {
	stream, err := mgmt.GetRollout(ctx, &apb.GetRolloutRequest{})
	if err != nil {
		return nil, err
	}
	return stream.Recv()
}

// watchRollout prints every change of rollout r until it is done, halted or aborted, or wait
// has passed. It keeps following across curator leader changes (the rollout does too). A
// halted or aborted rollout is an error, so scripts can tell.
func (s *session) watchRollout(ctx context.Context, progress, out io.Writer, r *apb.Rollout, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	last := r
	for {
		next, err := s.followRollout(ctx, out, last)
		if next != nil {
			last = next
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("rollout %s is still %s after %v of watching", last.Id, rollout.StateWords(last.State), wait)
		}
		fmt.Fprintf(progress, "lost the curator leader (%v); asking again in %v\n", status.Convert(err).Message(), rolloutWatchRetry)
		select {
		case <-ctx.Done():
		case <-time.After(rolloutWatchRetry):
		}
	}
	switch last.State {
	case apb.RolloutState_ROLLOUT_STATE_DONE:
		fmt.Fprintf(out, "Rollout %s is done: every node runs %s.\n", last.Id, last.Release.GetVersion())
		return nil
	case apb.RolloutState_ROLLOUT_STATE_HALTED:
		return fmt.Errorf("rollout %s halted: %s (resume or abort it)", last.Id, last.Reason)
	default:
		return fmt.Errorf("rollout %s is %s: %s", last.Id, rollout.StateWords(last.State), last.Reason)
	}
}

// followRollout follows one watch of the latest rollout, printing its changes since last.
// It returns nil once the rollout is done, halted or aborted, or the call's error.
func (s *session) followRollout(ctx context.Context, out io.Writer, last *apb.Rollout) (*apb.Rollout, error) {
	mgmt, done, err := s.management(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	stream, err := mgmt.GetRollout(ctx, &apb.GetRolloutRequest{Watch: true})
	if err != nil {
		return nil, err
	}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return last, status.Error(codes.Unavailable, "the watch ended")
		}
		if err != nil {
			return last, err
		}
		if r.Id != last.Id {
			return r, fmt.Errorf("another rollout (%s) started", r.Id)
		}
		for _, c := range rollout.Changes(last, r) {
			fmt.Fprintf(out, "%s  %s\n", time.Now().Format("15:04:05"), c)
		}
		last = r
		if rollout.Final(r.State) || r.State == apb.RolloutState_ROLLOUT_STATE_HALTED {
			return last, nil
		}
	}
}

// writeRollout writes a rollout as a summary line and a table of its nodes.
func writeRollout(w io.Writer, r *apb.Rollout, now time.Time) error {
	fmt.Fprintf(w, "Rollout %s to %s (build %.12s): %s for %s, revision %d\n", r.Id, r.Release.GetVersion(), r.Release.GetBuildId(),
		rollout.StateWords(r.State), now.Sub(r.StateSince.AsTime()).Round(time.Second), r.Revision)
	if r.Reason != "" {
		fmt.Fprintf(w, "  %s\n", r.Reason)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tGROUP\tPHASE\tSINCE\tFROM\tMESSAGE")
	for _, rn := range r.Nodes {
		since := "-"
		if rn.PhaseSince != nil {
			since = now.Sub(rn.PhaseSince.AsTime()).Round(time.Second).String()
		}
		from := rn.PreviousVersion
		if from == "" {
			from = "-"
		}
		msg := strings.ReplaceAll(rn.Message, "\n", " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rn.NodeId, rollout.GroupWords(rn.Group), rollout.PhaseWords(rn.Phase), since, from, msg)
	}
	return tw.Flush()
}
