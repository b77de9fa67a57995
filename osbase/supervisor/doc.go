// Package supervisor runs every long-lived service of a Metropolis node as a
// tree of runnables, restarting what fails. It follows Erlang/OTP's
// supervision trees, adapted to Go's contexts: a service never watches
// another service's health by hand, it just returns an error and lets its
// supervisor restart it (and, where they belong together, its siblings).
//
// # The runnable contract
//
// A Runnable is func(ctx context.Context) error. Its context is live while it
// should run and is cancelled when it must stop. Returning while the context
// is live is a failure, whatever the return value, unless the runnable first
// called Signal(ctx, SignalDone) and returns nil: then it is done and is not
// restarted (its children keep running). A panic is a failure too; it is
// caught and its stack trace goes to the runnable's log.
//
// Inside a runnable, Run and RunGroup start children, Signal reports health
// or completion, and Logger and RawLogger write to the runnable's log.
// RunCommand makes an external process the body of a runnable.
//
// # Failure and restart
//
// Children are started in groups: Run makes a group of one, RunGroup a group
// of siblings that live and die together. When a member of a group fails,
// every member is cancelled; cancelling a runnable cancels its whole subtree
// (children's contexts derive from their parent's). Only once all members and
// all their descendants have returned does the group start again, so an old
// instance never overlaps its replacement. Restarts wait an exponential
// backoff (Backoff: 100ms doubling to 10s by default), which goes back to its
// start once a runnable has been healthy for a while. The failing runnable's
// parent is not affected; the root runnable is restarted like any other.
//
// # Names and logs
//
// Each runnable is named by its parent; its distinguished name (DN) is the
// path of names from the root, such as "root.consensus.etcd". That DN is its
// key in the logtree.LogTree: Logger(ctx) writes there, RunCommand puts the
// process's output there, and the supervisor writes failures and restarts
// there too. States reports the tree (state, restarts, last error) for the
// node status API and for tests.
//
// # What it does not do
//
// The supervisor does not reap zombies or do anything else PID 1 must do
// (see RunCommand for how that fits), and it does not decide what runs: the
// node's startup code and roleserve start runnables.
package supervisor
