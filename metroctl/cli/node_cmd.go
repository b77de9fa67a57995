package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

func (s *session) nodeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "List, approve, change, configure and read the logs of the cluster's nodes, load images into them and update them",
	}
	cmd.AddCommand(s.nodeListCommand(), s.nodeDescribeCommand(), s.nodeApproveCommand(),
		s.nodeRoleCommand(true), s.nodeRoleCommand(false), s.nodeDeleteCommand(),
		s.nodeLabelCommand(), s.nodeLogsCommand(), s.nodePowerCommand(true), s.nodePowerCommand(false),
		s.nodeLoadImageCommand(), s.nodeUpdateCommand(), s.nodeConfigCommand())
	cmd.AddCommand(s.nodeIntrospectionCommands()...)
	return cmd
}

// listNodes returns the nodes in states (all if empty), sorted by ID.
func listNodes(ctx context.Context, mgmt apb.ManagementClient, states []apb.NodeState) ([]*apb.Node, error) {
	stream, err := mgmt.GetNodes(ctx, &apb.GetNodesRequest{States: states})
	if err != nil {
		return nil, err
	}
	var nodes []*apb.Node
	for {
		n, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	sortNodes(nodes)
	return nodes, nil
}

func (s *session) nodeListCommand() *cobra.Command {
	var output string
	var stateArgs []string
	cmd := &cobra.Command{
		Use:     "list [--state NEW|STANDBY|UP|DECOMMISSIONED ...]",
		Aliases: []string{"ls"},
		Short:   "List the cluster's nodes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutputFormat(output)
			if err != nil {
				return err
			}
			var states []apb.NodeState
			for _, a := range stateArgs {
				st, err := parseNodeState(a)
				if err != nil {
					return fmt.Errorf("--state: %w", err)
				}
				states = append(states, st)
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("list nodes", err)
			}
			defer done()
			nodes, err := listNodes(ctx, mgmt, states)
			if err != nil {
				return explain("list nodes", err)
			}
			if format != outputTable {
				return writeProtos(cmd.OutOrStdout(), format, nodes)
			}
			return writeNodeTable(cmd.OutOrStdout(), nodes)
		},
	}
	addOutputFlag(cmd, &output)
	cmd.Flags().StringSliceVar(&stateArgs, "state", nil, "only nodes in this state: NEW, STANDBY, UP or DECOMMISSIONED (repeatable, or comma-separated)")
	mustRegisterCompletion(cmd, "state", cobra.FixedCompletions([]string{"NEW", "STANDBY", "UP", "DECOMMISSIONED"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (s *session) nodeDescribeCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:               "describe NODE_ID",
		Short:             "Show everything the cluster knows about a node",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutputFormat(output)
			if err != nil {
				return err
			}
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("describe node "+id, err)
			}
			defer done()
			n, err := mgmt.GetNode(ctx, &apb.GetNodeRequest{NodeId: id})
			if err != nil {
				return explain("describe node "+id, err)
			}
			if format != outputTable {
				return writeProto(cmd.OutOrStdout(), format, n)
			}
			// For the trial, which only the stored configuration has. A cluster without
			// configuration has none; any other failure is said in the description, which
			// stays worth reading without it.
			res, err := mgmt.GetNodeConfiguration(ctx, &apb.GetNodeConfigurationRequest{NodeId: id})
			if status.Code(err) == codes.Unimplemented {
				err = nil
			}
			return writeNodeDescription(cmd.OutOrStdout(), n, res.GetStored(), err)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
