package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// maxBundleSize is the node's limit on a bundle (both parts at their largest), checked here
// so an operator learns it before uploading.
const maxBundleSize = (48 << 20) + (768 << 20) + (1 << 20)

// updatePollInterval is how often `node update --reboot` looks at the node's report while it
// waits for the trial to end.
const updatePollInterval = 5 * time.Second

func (s *session) nodeUpdateCommand() *cobra.Command {
	var reboot bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "update NODE_ID BUNDLE",
		Short: "Install a release bundle in a node's other system slot (and with --reboot, try it)",
		Long: "Uploads BUNDLE (built by mkimage -bundle and signed by a release key the node's\n" +
			"image trusts) to the node, which checks its signature before writing anything,\n" +
			"writes it to its other system slot, reads it back, and arranges for the next boot\n" +
			"to try it once. With --reboot the node reboots into it at once, and the command\n" +
			"waits (up to --wait) until the node has committed the new release, or gone back to\n" +
			"the old one by itself, and says which and why. Nothing else changes on the node:\n" +
			"a refused bundle leaves it as it was.",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: s.completeNodeThenFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, path := args[0], args[1]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			size, err := checkBundleFile(path)
			if err != nil {
				return err
			}
			c, err := s.loadContext()
			if err != nil {
				return err
			}
			action := "update node " + id
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			conn, address, err := dialNodeManagement(ctx, c, id, s.app.NodeManagementPort, action)
			if err != nil {
				return err
			}
			defer conn.Close()
			nm := apb.NewNodeManagementClient(conn)
			res, err := uploadBundle(cmd.Context(), nm, path, size, cmd.ErrOrStderr(), imageProgressInterval)
			if err != nil {
				return explain(fmt.Sprintf("%s at %s with %s", action, address, path), err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Node %s: release %s (build %s) staged in slot %s; the next boot tries it once.\n",
				id, res.Installed.GetVersion(), res.Installed.GetBuildId(), res.Slot)
			if !reboot {
				return nil
			}
			if err := callPower(ctx, nm, true); err != nil {
				return explain(fmt.Sprintf("reboot node %s at %s", id, address), err)
			}
			fmt.Fprintf(out, "Node %s is rebooting into slot %s; waiting up to %s for it to commit or roll back.\n", id, res.Slot, wait)
			return s.waitForTrial(cmd.Context(), cmd.ErrOrStderr(), out, id, res, wait)
		},
	}
	cmd.Flags().BoolVar(&reboot, "reboot", false, "reboot the node into the new release and wait for the trial's outcome")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Minute, "with --reboot: how long to wait for the node to commit or roll back")
	return cmd
}

// checkBundleFile makes sure path is a readable, non-empty regular file within the node's
// limit before anything is dialed, and returns its size.
func checkBundleFile(path string) (int64, error) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return 0, fmt.Errorf("bundle: %w", err)
	case !fi.Mode().IsRegular():
		return 0, fmt.Errorf("bundle %s is not a regular file (%s)", path, fi.Mode().Type())
	case fi.Size() == 0:
		return 0, fmt.Errorf("bundle %s is empty", path)
	case fi.Size() > maxBundleSize:
		return 0, fmt.Errorf("bundle %s is %s, more than a node takes (%s)", path, byteCount(fi.Size()), byteCount(maxBundleSize))
	}
	return fi.Size(), nil
}

// uploadBundle sends the bundle at path through one UpdateNode call, saying how far it got
// every interval, and returns the node's answer.
func uploadBundle(ctx context.Context, nm apb.NodeManagementClient, path string, size int64, progress io.Writer, interval time.Duration) (*apb.UpdateNodeResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := nm.UpdateNode(ctx)
	if err != nil {
		return nil, err
	}
	meta := &apb.UpdateNodeMetadata{Size: size}
	stopReports, err := sendFile(path, size, progress, interval, "the node is checking and installing it",
		func() error {
			return stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Metadata{Metadata: meta}})
		},
		func(chunk []byte) error {
			return stream.Send(&apb.UpdateNodeRequest{Part: &apb.UpdateNodeRequest_Chunk{Chunk: chunk}})
		})
	defer stopReports()
	if err != nil {
		return nil, err
	}
	return stream.CloseAndRecv()
}

// waitForTrial follows the node's status report until its staged slot is committed or rolled
// back, printing what it sees while it waits.
func (s *session) waitForTrial(ctx context.Context, progress, out io.Writer, id string, res *apb.UpdateNodeResponse, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	started := time.Now()
	last := ""
	for {
		verdict, done, seen := trialOutcome(s.nodeSoftware(ctx, id), res.Slot, res.Installed.GetBuildId())
		if done {
			fmt.Fprintln(out, verdict)
			if seen == apb.SlotState_SLOT_STATE_ROLLED_BACK {
				return fmt.Errorf("node %s rolled back", id)
			}
			return nil
		}
		if verdict != last {
			fmt.Fprintf(progress, "node %s: %s (%s)\n", id, verdict, time.Since(started).Round(time.Second))
			last = verdict
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s did not commit or roll back within %s; last seen: %s", id, wait, last)
		case <-time.After(updatePollInterval):
		}
	}
}

// nodeSoftware returns the node's last report of its software, or nil if the cluster cannot
// be asked now (the node may be the one answering for it, and rebooting).
func (s *session) nodeSoftware(ctx context.Context, id string) *apb.NodeSoftware {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	mgmt, done, err := s.management(ctx)
	if err != nil {
		return nil
	}
	defer done()
	n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
	if err != nil {
		return nil
	}
	return n.GetStatus().GetSoftware()
}

// trialOutcome reads a node's software report while it tries the release with buildID in
// slot: a line saying what it shows, whether the trial is over, and the slot's state.
func trialOutcome(sw *apb.NodeSoftware, slot, buildID string) (string, bool, apb.SlotState) {
	if sw == nil {
		return "waiting for the node's report", false, apb.SlotState_SLOT_STATE_UNSPECIFIED
	}
	var st *apb.Slot
	for _, x := range sw.GetSlots() {
		if x.GetName() == slot {
			st = x
		}
	}
	if st == nil {
		return "the node's report has no slot " + slot, false, apb.SlotState_SLOT_STATE_UNSPECIFIED
	}
	switch st.GetState() {
	case apb.SlotState_SLOT_STATE_COMMITTED:
		if sw.GetRunningSlot() == slot && st.GetBuildId() == buildID {
			return fmt.Sprintf("release %s committed: the node runs it from slot %s", st.GetVersion(), slot), true, st.GetState()
		}
	case apb.SlotState_SLOT_STATE_ROLLED_BACK:
		if st.GetBuildId() == buildID {
			return fmt.Sprintf("release %s rolled back; the node runs %s again: %s", st.GetVersion(), sw.GetVersion(), st.GetRollbackReason()), true, st.GetState()
		}
	}
	return fmt.Sprintf("running %s from slot %s; slot %s is %s", sw.GetVersion(), sw.GetRunningSlot(), slot, slotStateName(st.GetState())), false, st.GetState()
}
