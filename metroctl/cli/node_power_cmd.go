package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

// nodePowerCommand builds `node reboot` (reboot true) or `node shutdown`, which ask the node's
// management service to go down; the node answers before it does.
func (s *session) nodePowerCommand(reboot bool) *cobra.Command {
	verb, short := "shutdown", "Stop a node (it stays down until its machine is started again)"
	if reboot {
		verb, short = "reboot", "Restart a node; it rejoins the cluster with its state"
	}
	return &cobra.Command{
		Use:               verb + " NODE_ID",
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			c, err := s.loadContext()
			if err != nil {
				return err
			}
			action := verb + " node " + id
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			conn, address, err := dialNodeManagement(ctx, c, id, s.app.NodeManagementPort, action)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := callPower(ctx, apb.NewNodeManagementClient(conn), reboot); err != nil {
				return explain(fmt.Sprintf("%s at %s", action, address), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Node %s is going down for %s.\n", id, verb)
			return nil
		},
	}
}

func callPower(ctx context.Context, nm apb.NodeManagementClient, reboot bool) error {
	if reboot {
		_, err := nm.Reboot(ctx, &apb.RebootRequest{})
		return err
	}
	_, err := nm.Shutdown(ctx, &apb.ShutdownRequest{})
	return err
}
