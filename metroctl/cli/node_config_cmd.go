package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

func (s *session) nodeConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read and change a node's configuration (NTP and DNS servers, Kubernetes labels and taints, kubelet reservations)",
		Long: "A node's configuration is what an operator sets on one node while it runs\n" +
			"(apb.NodeConfiguration): NTP and DNS servers, the labels and taints of its Kubernetes\n" +
			"Node and the kubelet's reservations. A field it leaves out is inherited from the\n" +
			"cluster's node defaults (`metroctl cluster config`). The node follows a change while it\n" +
			"runs; the configuration field of its status (`metroctl node describe NODE -o yaml`) says\n" +
			"which version it has applied and what it could not apply.",
	}
	kind := configKind{
		group:     "node",
		argUse:    "NODE",
		args:      cobra.ExactArgs(1),
		complete:  s.completeNodeIDs(nil, 1),
		effective: true,
		subject: func(args []string) (configSubject, error) {
			if err := identity.ValidateNodeID(args[0]); err != nil {
				return nil, err
			}
			return nodeConfig{id: args[0]}, nil
		},
	}
	cmd.AddCommand(s.configGetCommand(kind), s.configApplyCommand(kind), s.configEditCommand(kind))
	return cmd
}

// nodeConfig is one node's configuration. A change replaces it whole.
type nodeConfig struct {
	id string
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

func (n nodeConfig) write(ctx context.Context, mgmt apb.ManagementClient, _, next proto.Message, expected uint64, dryRun bool) (uint64, bool, error) {
	res, err := mgmt.ConfigureNode(ctx, &apb.ConfigureNodeRequest{
		NodeId:          n.id,
		Configuration:   next.(*apb.NodeConfiguration),
		ExpectedVersion: expected,
		DryRun:          dryRun,
	})
	if err != nil {
		return 0, false, err
	}
	return res.GetStored().GetVersion(), res.GetChanged(), nil
}

// changedTime is t as a time, zero if t is unset.
func changedTime(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}
