package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"metropolis.dev/metropolis/osbase/logtree"
)

// Run starts r as a child of the runnable owning ctx, in a group of its own:
// if it fails, only it (and its descendants) restart. name must be a valid
// DN part, unique among the parent's children. The child stops when the
// parent's instance stops.
func Run(ctx context.Context, name string, r Runnable) error {
	return RunGroup(ctx, map[string]Runnable{name: r})
}

// RunGroup starts several children that live and die together: if any of
// them fails, all are cancelled, and once all have exited (with their
// descendants) all start again. Use it for services that only make sense
// together, such as a server and the loop that feeds it.
func RunGroup(ctx context.Context, runnables map[string]Runnable) error {
	inst, err := instanceFrom(ctx)
	if err != nil {
		return fmt.Errorf("start children: %w", err)
	}
	if len(runnables) == 0 {
		return errors.New("start children: no runnables given")
	}
	names := make([]string, 0, len(runnables))
	for name, r := range runnables {
		if err := logtree.ValidateName(name); err != nil {
			return fmt.Errorf("start child of %s: %w", inst.n.dn, err)
		}
		if r == nil {
			return fmt.Errorf("start child %s of %s: runnable is nil", name, inst.n.dn)
		}
		names = append(names, name)
	}
	// Map order is random; start in a stable order so logs read the same
	// from one boot to the next.
	slices.Sort(names)

	s, parent := inst.s, inst.n
	s.mu.Lock()
	defer s.mu.Unlock()
	if parent.gen != inst.gen || !parent.running {
		return fmt.Errorf("start children of %s: that runnable has returned and can no longer start children", parent.dn)
	}
	if err := parent.ctx.Err(); err != nil {
		return fmt.Errorf("start children of %s: it is stopping: %w", parent.dn, err)
	}
	for _, name := range names {
		if _, ok := parent.children[name]; ok {
			return fmt.Errorf("start child of %s: a child named %q already exists", parent.dn, name)
		}
	}

	g := &group{parentCtx: parent.ctx}
	for _, name := range names {
		n := s.newNode(parent, name, runnables[name])
		n.group = g
		g.members = append(g.members, n)
		parent.children[name] = n
	}
	for _, n := range g.members {
		s.start(n)
	}
	return nil
}
