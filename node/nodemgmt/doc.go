// Package nodemgmt serves the per-node management API (apb.NodeManagement): an operator's view
// of one node and the few things an operator does to it. A node has no shell, so what a person
// would otherwise log in for (status, logs, reboot, power off, loading container images) is here.
//
// It owns the translation between the node's internals and that API: supervisor states become
// RunnableState, log tree entries become LogEntry messages, and GetLogs requests become log tree
// reads, with the request checked field by field first (codes.InvalidArgument names the field).
//
// It does not own what it reports or acts on. The node program hands it the log tree, the
// supervisor (for runnable states), a SelfReporter (node ID, state and roles, which the node
// learns from the curator) and a Power implementation from the platform (hosted: end or restart
// the process; image: the real reboot). It does not authenticate or authorize callers: the
// node's gRPC server does that with an interceptor (node/rpc) before a call reaches this package,
// so every method here assumes an allowed caller. For LoadImage it owns the upload (spooled to
// a file, bounded in size), its check (ociimage.Inspect, image names) and its errors; importing
// into containerd is an ImageLoader's, which the node's Kubernetes worker provides.
//
// Users: the node program registers the Server on its node management listener; metroctl and
// the end-to-end tests are its clients.
package nodemgmt
