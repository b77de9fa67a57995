// Package logtree keeps the logs of everything running on a Metropolis node,
// in memory, as a tree keyed by distinguished name (DN). A node has no shell
// and no files an operator could tail, so this tree is where debugging starts:
// the node management API reads it, and tests dump it when they fail.
//
// # Model
//
// A DN is a dotted path such as "root.consensus.etcd". The supervisor gives
// each runnable the DN of its place in the supervision tree, so a service's
// logs sit under the same name as the service itself, and reading a DN with
// its children shows a whole subsystem in the order things happened.
//
// Each DN keeps its newest entries in a bounded queue (DefaultNodeCapacity by
// default), and the whole tree is bounded too (DefaultGlobalCapacity), the
// oldest entry anywhere going first. Memory use therefore stays flat however
// many sources log and however chatty they are.
//
// An entry is either:
//   - leveled: written through a LeveledLogger, with a time, a Severity
//     (INFO, WARNING, ERROR, FATAL), the file:line of the call and a message
//     that may span lines; or
//   - raw: one line of output from something that does not use logtree,
//     typically a child process, captured by a RawFor writer. A LineParser
//     such as ParseKlog can turn such lines back into leveled entries.
//
// Readers (LogTree.Read) get a backlog and, optionally, a stream of new
// entries. Writers never wait for readers: a stream that is full drops
// entries for that reader only and counts them.
//
// Entries print glog-style with the DN added (see LogEntry.String), and
// convert to a plain Record for the API.
//
// # Other sources
//
// KmsgPipe feeds the kernel's log from /dev/kmsg into a DN, and
// NewSlogHandler and NewStdLogger let libraries that log through log/slog or
// *log.Logger write into a DN.
//
// # What it does not do
//
// Logs are not persisted: they live until evicted or until the node
// restarts. Nothing here decides which DN a service logs to (the supervisor
// does) or exposes logs over the network (the node management API does).
package logtree
