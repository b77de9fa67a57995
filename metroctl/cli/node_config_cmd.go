package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

func (s *session) nodeConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read and change a node's configuration (NTP and DNS servers, network, Kubernetes labels and taints, kubelet reservations)",
		Long: "A node's configuration is what an operator sets on one node while it runs\n" +
			"(apb.NodeConfiguration): NTP and DNS servers, its network, the labels and taints of its\n" +
			"Kubernetes Node and the kubelet's reservations. A field it leaves out is inherited from the\n" +
			"cluster's node defaults (`metroctl cluster config`). The node follows a change while it\n" +
			"runs; the configuration field of its status (`metroctl node describe NODE -o yaml`) says\n" +
			"which version it has applied and what it could not apply. A change can be a trial\n" +
			"(apply or edit --try), which the node goes back from by itself unless it is confirmed\n" +
			"(confirm): the safe way to change its network.",
	}
	kind := func(t *trialFlags) configKind {
		return configKind{
			group:     "node",
			argUse:    "NODE",
			args:      cobra.ExactArgs(1),
			complete:  s.completeNodeIDs(nil, 1),
			effective: true,
			subject: func(args []string) (configSubject, error) {
				if err := identity.ValidateNodeID(args[0]); err != nil {
					return nil, err
				}
				if t.confirm && t.try.d == 0 {
					return nil, errConfirmWithoutTry
				}
				return nodeConfig{id: args[0], try: t.try.d, confirm: t.confirm}, nil
			},
			followTrial: s.followTrial,
		}
	}
	var none, applyTrial, editTrial trialFlags
	apply := s.configApplyCommand(kind(&applyTrial))
	edit := s.configEditCommand(kind(&editTrial))
	for _, c := range []struct {
		cmd *cobra.Command
		t   *trialFlags
	}{{apply, &applyTrial}, {edit, &editTrial}} {
		c.cmd.Use += " [--try DURATION [--confirm]]"
		c.cmd.Long += "\n\n" + trialHelp
		c.t.addFlags(c.cmd)
	}
	apply.MarkFlagsMutuallyExclusive("confirm", "dry-run")
	cmd.AddCommand(s.configGetCommand(kind(&none)), apply, edit, s.nodeConfigConfirmCommand())
	return cmd
}

// nodeConfig is one node's configuration. A change replaces it whole, or with try, is stored
// as a trial the node goes back from by itself unless it is confirmed.
type nodeConfig struct {
	id string
	// try is how long the node tries a change (--try); 0: the change replaces the stored
	// configuration.
	try time.Duration
	// confirm is whether to confirm the trial once the node reports it runs it (--confirm).
	confirm bool
}

func (n nodeConfig) noun() string { return "node " + n.id }

func (n nodeConfig) command(verb string) string { return "metroctl node config " + verb + " " + n.id }

func (nodeConfig) newConfiguration() proto.Message { return &apb.NodeConfiguration{} }

func (n nodeConfig) read(ctx context.Context, mgmt apb.ManagementClient) (*storedConfig, error) {
	res, err := mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: n.id})
	if err != nil {
		return nil, err
	}
	st := res.GetStored()
	c := &storedConfig{
		version:       st.GetVersion(),
		configuration: st.GetConfiguration(),
		changed:       changedTime(st.GetChanged()),
		changedBy:     st.GetChangedBy(),
		effective:     res.GetEffective(),
		trial:         st.GetTrial(),
	}
	// Absent messages are empty ones: proto.Equal tells a nil message from an empty one.
	if st.GetConfiguration() == nil {
		c.configuration = &apb.NodeConfiguration{}
	}
	if res.GetEffective() == nil {
		c.effective = &apb.NodeConfiguration{}
	}
	return c, nil
}

func (nodeConfig) check(cur, next proto.Message) error { return nil }

func (nodeConfig) same(cur, next proto.Message) bool { return proto.Equal(cur, next) }

func (n nodeConfig) write(ctx context.Context, mgmt apb.ManagementClient, _, next proto.Message, expected uint64, dryRun bool) (*written, error) {
	req := &apb.ConfigureNodeRequest{
		NodeId:          n.id,
		Configuration:   next.(*apb.NodeConfiguration),
		ExpectedVersion: expected,
		DryRun:          dryRun,
	}
	if n.try > 0 {
		if err := checkTrialsServed(ctx, mgmt, n.id); err != nil {
			return nil, err
		}
		req.TryDuration = durationpb.New(n.try)
	}
	res, err := mgmt.ConfigureNode(ctx, req)
	if err != nil {
		return nil, err
	}
	w := &written{version: res.GetStored().GetVersion(), changed: res.GetChanged()}
	if n.try > 0 {
		// checkTrialsServed makes this unlikely; should a cluster still ignore try_duration,
		// the operator must learn that the change is no trial.
		w.trial = res.GetStored().GetTrial()
		switch {
		case w.trial != nil || !w.changed:
		case dryRun:
			return nil, fmt.Errorf("%w: it answers as if it would store the configuration for good; nothing was changed (dry run)", errNoTrials)
		default:
			return nil, fmt.Errorf("%w: it stored the configuration for good, as version %d, which the node does not go back from by itself", errNoTrials, w.version)
		}
	}
	return w, nil
}

// changedTime is t as a time, zero if t is unset.
func changedTime(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}
