package logtree_test

import (
	"log/slog"
	"runtime"
	"testing"

	"metropolis.dev/metropolis/osbase/logtree"
)

func lastEntry(t *testing.T, lt *logtree.LogTree, dn logtree.DN) *logtree.LeveledPayload {
	t.Helper()
	r, err := lt.Read(dn, logtree.WithBacklog(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Backlog) != 1 || r.Backlog[0].Leveled == nil {
		t.Fatalf("backlog = %v, want one leveled entry", r.Backlog)
	}
	return r.Backlog[0].Leveled
}

func line() int {
	_, _, l, _ := runtime.Caller(1)
	return l
}

func TestSlogHandler(t *testing.T) {
	lt := logtree.New()
	log := slog.New(logtree.NewSlogHandler(lt.MustLeveledFor("root.grpc")))

	log.With("peer", "10.0.0.1").WithGroup("req").Warn("slow call", "method", "/a.B/C", "took", "2 s")
	at := line() - 1
	got := lastEntry(t, lt, "root.grpc")
	if want := `slow call peer=10.0.0.1 req.method=/a.B/C req.took="2 s"`; got.Message() != want {
		t.Errorf("message = %q, want %q", got.Message(), want)
	}
	if got.Severity() != logtree.WARNING || got.File() != "adapter_test.go" || got.Line() != at {
		t.Errorf("entry = %v at %s, want WARNING at adapter_test.go:%d", got.Severity(), got.Location(), at)
	}

	log.Error("bad")
	if got := lastEntry(t, lt, "root.grpc"); got.Severity() != logtree.ERROR {
		t.Errorf("slog Error became %v, want ERROR", got.Severity())
	}

	log.Debug("hidden")
	if got := lastEntry(t, lt, "root.grpc"); got.Message() != "bad" {
		t.Errorf("Debug logged %q at verbosity 0, want it dropped", got.Message())
	}
	lt.SetVerbosity("root.grpc", 1)
	log.Debug("shown")
	if got := lastEntry(t, lt, "root.grpc"); got.Message() != "shown" || got.Severity() != logtree.INFO {
		t.Errorf("Debug at verbosity 1 gave %v %q, want INFO shown", got.Severity(), got.Message())
	}
}

func TestStdLogger(t *testing.T) {
	lt := logtree.New()
	std := logtree.NewStdLogger(lt.MustLeveledFor("root.etcd"), logtree.WARNING)
	std.Printf("raft: %s", "lost leader")
	at := line() - 1
	got := lastEntry(t, lt, "root.etcd")
	if got.Message() != "raft: lost leader" || got.Severity() != logtree.WARNING {
		t.Errorf("entry = %v %q, want WARNING 'raft: lost leader'", got.Severity(), got.Message())
	}
	if got.File() != "adapter_test.go" || got.Line() != at {
		t.Errorf("location = %s, want adapter_test.go:%d", got.Location(), at)
	}
}
