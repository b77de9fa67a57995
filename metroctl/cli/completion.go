package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	apb "metropolis.dev/metropolis/api/v1"
)

// completionTimeout bounds how long a shell waits for node IDs: a slow cluster must not hang
// the operator's prompt.
const completionTimeout = 5 * time.Second

// contextNames returns the stored context names, or none if the store cannot be read.
func (s *session) contextNames() []string {
	st, err := s.store()
	if err != nil {
		return nil
	}
	names, _ := st.ContextNames()
	return names
}

// completeContextNames completes the --context flag.
func (s *session) completeContextNames(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return s.contextNames(), cobra.ShellCompDirectiveNoFileComp
}

// completeContextArg completes a context name as the first argument.
func (s *session) completeContextArg(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return s.contextNames(), cobra.ShellCompDirectiveNoFileComp
}

// completeNodeIDs completes node IDs (of nodes in states, or all) from the cluster, for the
// first maxArgs arguments (-1: all arguments). Each ID is described by its state.
func (s *session) completeNodeIDs(states []apb.NodeState, maxArgs int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if maxArgs >= 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return s.nodeIDCompletions(cmd.Context(), states), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNodeThenRoles completes a node ID, then role names.
func (s *session) completeNodeThenRoles(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return s.nodeIDCompletions(cmd.Context(), nil), cobra.ShellCompDirectiveNoFileComp
	}
	return roleNames, cobra.ShellCompDirectiveNoFileComp
}

// nodeIDCompletions asks the cluster for node IDs; any failure yields no completions, since a
// shell has no good place to show an error.
func (s *session) nodeIDCompletions(parent context.Context, states []apb.NodeState) []cobra.Completion {
	if parent == nil {
		parent = context.Background()
	}
	timeout := completionTimeout
	if s.timeout > 0 {
		timeout = min(timeout, s.timeout)
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	mgmt, done, err := s.management(ctx)
	if err != nil {
		return nil
	}
	defer done()
	nodes, err := listNodes(ctx, mgmt, states)
	if err != nil {
		return nil
	}
	out := make([]cobra.Completion, len(nodes))
	for i, n := range nodes {
		out[i] = cobra.CompletionWithDesc(n.Id, stateText(n.State))
	}
	return out
}

// mustRegisterCompletion adds shell completion for flag of cmd. Cobra refuses only a flag that
// does not exist or already has one: a mistake in this package that every test run of the
// command tree shows, so it panics.
func mustRegisterCompletion(cmd *cobra.Command, flag string, f cobra.CompletionFunc) {
	if err := cmd.RegisterFlagCompletionFunc(flag, f); err != nil {
		panic(fmt.Sprintf("metroctl: completion for --%s of %s: %v", flag, cmd.Name(), err))
	}
}
