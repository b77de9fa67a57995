package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/identity"
)

func (s *session) nodeApproveCommand() *cobra.Command {
	var publicKey, pinEK string
	var allNew bool
	cmd := &cobra.Command{
		Use:   "approve (NODE_ID... | --public-key KEY | --all-new)",
		Short: "Let NEW nodes join the cluster",
		Long: "Approves NEW nodes so that they become STANDBY and then UP. A node is named by its ID,\n" +
			"or better by its public key as the machine's console shows it (64 hex digits, base64,\n" +
			"or a PEM file), which cannot refer to any other node. --all-new approves every NEW node.",
		ValidArgsFunction: s.completeNodeIDs([]apb.NodeState{apb.NodeState_NODE_STATE_NEW}, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := 0
			for _, b := range []bool{len(args) > 0, publicKey != "", allNew} {
				if b {
					given++
				}
			}
			if given != 1 {
				return fmt.Errorf("name the nodes to approve with exactly one of: node IDs, --public-key, --all-new")
			}
			var pin []byte
			if pinEK != "" {
				var err error
				if pin, err = hex.DecodeString(pinEK); err != nil || len(pin) != sha256.Size {
					return fmt.Errorf("--pin-ek: want the EK fingerprint as 64 hex digits (metroctl node describe shows it), got %.80q", pinEK)
				}
				if allNew || len(args)+btoi(publicKey != "") != 1 {
					return fmt.Errorf("--pin-ek pins one node's TPM: name exactly one node")
				}
			}
			var requests []*apb.ApproveNodeRequest
			var names []string
			for _, id := range args {
				if err := identity.ValidateNodeID(id); err != nil {
					return err
				}
				requests = append(requests, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: id}})
				names = append(names, id)
			}
			if publicKey != "" {
				pub, err := parsePublicKey(publicKey)
				if err != nil {
					return err
				}
				requests = append(requests, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_PublicKey{PublicKey: pub}})
				names = append(names, identity.NodeID(pub))
			}

			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("approve nodes", err)
			}
			defer done()
			if allNew {
				nodes, err := listNodes(ctx, mgmt, []apb.NodeState{apb.NodeState_NODE_STATE_NEW})
				if err != nil {
					return explain("list NEW nodes", err)
				}
				if len(nodes) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "No NEW nodes to approve.")
					return nil
				}
				for _, n := range nodes {
					requests = append(requests, &apb.ApproveNodeRequest{Node: &apb.ApproveNodeRequest_NodeId{NodeId: n.Id}})
					names = append(names, n.Id)
				}
			}
			// One failure does not stop the others: each node's outcome is reported.
			var errs []error
			for i, req := range requests {
				req.PinEkFingerprint = pin
				if _, err := mgmt.ApproveNode(ctx, req); err != nil {
					errs = append(errs, explain("approve node "+names[i], err))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Approved node %s.\n", names[i])
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&publicKey, "public-key", "", "public key of the node to approve: 64 hex digits, base64, or a PEM file")
	cmd.Flags().BoolVar(&allNew, "all-new", false, "approve every NEW node")
	cmd.Flags().StringVar(&pinEK, "pin-ek", "", "trust the node's TPM by its endorsement key's fingerprint (64 hex digits), checked on the machine: for a TPM without an EK certificate from a CA the cluster trusts")
	return cmd
}

// nodeRoleCommand is add-role (grant) or remove-role.
func (s *session) nodeRoleCommand(grant bool) *cobra.Command {
	use, short, verb, action := "add-role", "Grant roles to a node", "Granted", "grant"
	if !grant {
		use, short, verb, action = "remove-role", "Revoke roles from a node", "Revoked", "revoke"
	}
	return &cobra.Command{
		Use:   use + " NODE_ID ROLE...",
		Short: short,
		Long: short + ". ROLE is ConsensusMember, KubernetesController or KubernetesWorker\n" +
			"(case does not matter; consensus, controller and worker are short forms).",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: s.completeNodeThenRoles,
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			req, roles, err := rolesUpdate(id, args[1:], grant)
			if err != nil {
				return err
			}
			names := make([]string, len(roles))
			for i, r := range roles {
				names[i] = r.String()
			}
			what := fmt.Sprintf("%s %s of node %s", action, strings.Join(names, ", "), id)
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain(what, err)
			}
			defer done()
			if _, err := mgmt.UpdateNodeRoles(ctx, req); err != nil {
				return explain(what, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s on node %s.\n", verb, strings.Join(names, ", "), id)
			return nil
		},
	}
}

func (s *session) nodeDeleteCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete NODE_ID [--force]",
		Short: "Remove a node from the cluster for good",
		Long: "Decommissions a node: it loses its roles and certificates and is refused on its next\n" +
			"boot. The cluster refuses to delete a node that still holds roles unless --force is\n" +
			"given (for a machine that is gone for good; forcing a working consensus member out\n" +
			"can cost the cluster its quorum).",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("delete node "+id, err)
			}
			defer done()
			if _, err := mgmt.DeleteNode(ctx, &apb.DeleteNodeRequest{NodeId: id, SkipSafetyChecks: force}); err != nil {
				return explain("delete node "+id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted node %s; it is now DECOMMISSIONED.\n", id)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even if the node still holds roles")
	return cmd
}

func (s *session) nodeLabelCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "label NODE_ID KEY=VALUE... KEY-...",
		Short: "Set (KEY=VALUE) or remove (KEY-) labels of a node",
		Long: "Sets or removes labels of a node. Keys and values follow Kubernetes label syntax:\n" +
			"a key is an optional DNS subdomain prefix and '/' and a name of at most 63 characters;\n" +
			"a value is at most 63 letters, digits, '-', '_' and '.'.",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: s.completeNodeIDs(nil, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := identity.ValidateNodeID(id); err != nil {
				return err
			}
			upsert, remove, err := parseLabelArgs(args[1:])
			if err != nil {
				return err
			}
			ctx, cancel := s.timed(cmd.Context())
			defer cancel()
			mgmt, done, err := s.management(ctx)
			if err != nil {
				return explain("label node "+id, err)
			}
			defer done()
			req := &apb.UpdateNodeLabelsRequest{NodeId: id, Upsert: upsert, Remove: remove}
			if _, err := mgmt.UpdateNodeLabels(ctx, req); err != nil {
				return explain("label node "+id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Updated labels of node %s.\n", id)
			return nil
		},
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
