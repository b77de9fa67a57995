package logtree

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// backlog returns every stored entry of dn (and children, if asked).
func backlog(t *testing.T, lt *LogTree, dn DN, opts ...ReadOption) []*LogEntry {
	t.Helper()
	r, err := lt.Read(dn, append(opts, WithBacklog(BacklogAll))...)
	if err != nil {
		t.Fatalf("Read(%q): %v", dn, err)
	}
	defer r.Close()
	return r.Backlog
}

// thisLine returns the line it is called from.
func thisLine() int {
	_, _, line, _ := runtime.Caller(1)
	return line
}

func TestLeveledRecordsCallerSeverityAndMessage(t *testing.T) {
	lt := New()
	l := lt.MustLeveledFor("root.svc")
	type logged struct {
		sev  Severity
		msg  string
		line int
	}
	var want []logged
	l.Info("hello ", 42)
	want = append(want, logged{INFO, "hello 42", thisLine() - 1})
	l.Infof("x=%d", 1)
	want = append(want, logged{INFO, "x=1", thisLine() - 1})
	l.Warning("careful")
	want = append(want, logged{WARNING, "careful", thisLine() - 1})
	l.Warningf("w%s", "f")
	want = append(want, logged{WARNING, "wf", thisLine() - 1})
	l.Error("bad")
	want = append(want, logged{ERROR, "bad", thisLine() - 1})
	l.Errorf("e%d", 2)
	want = append(want, logged{ERROR, "e2", thisLine() - 1})
	l.V(0).Info("v0")
	want = append(want, logged{INFO, "v0", thisLine() - 1})

	got := backlog(t, lt, "root.svc")
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		p := got[i].Leveled
		if p == nil {
			t.Fatalf("entry %d is raw, want leveled", i)
		}
		if p.Severity() != w.sev || p.Message() != w.msg || p.File() != "leveled_test.go" || p.Line() != w.line {
			t.Errorf("entry %d = %v %q at %s, want %v %q at leveled_test.go:%d", i, p.Severity(), p.Message(), p.Location(), w.sev, w.msg, w.line)
		}
		if got[i].DN != "root.svc" {
			t.Errorf("entry %d has DN %q, want root.svc", i, got[i].DN)
		}
	}
}

func TestWithAddedStackDepthBlamesTheHelpersCaller(t *testing.T) {
	lt := New()
	l := lt.MustLeveledFor("root").WithAddedStackDepth(1)
	helper := func() { l.Info("from helper") }
	helper()
	line := thisLine() - 1
	got := backlog(t, lt, "root")[0].Leveled
	if got.Location() != "leveled_test.go:"+strconv.Itoa(line) {
		t.Errorf("location = %s, want leveled_test.go:%d (the helper's caller)", got.Location(), line)
	}
}

func TestMultiLineMessageIsOneEntry(t *testing.T) {
	lt := New()
	lt.MustLeveledFor("root").Info("first\nsecond\n\nfourth\n")
	got := backlog(t, lt, "root")
	if len(got) != 1 {
		t.Fatalf("got %d entries, want 1", len(got))
	}
	lines := got[0].Leveled.Lines()
	want := []string{"first", "second", "", "fourth"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q (one trailing newline dropped)", lines, want)
	}
}

func TestVerbosityIsInheritedDownTheTree(t *testing.T) {
	lt := New()
	etcd := lt.MustLeveledFor("root.consensus.etcd")
	curator := lt.MustLeveledFor("root.curator")
	if etcd.V(1).Enabled() {
		t.Fatal("V(1) enabled by default, want only V(0)")
	}
	if err := lt.SetVerbosity("root.consensus", 2); err != nil {
		t.Fatal(err)
	}
	late := lt.MustLeveledFor("root.consensus.late")

	for _, tc := range []struct {
		name  string
		l     LeveledLogger
		level VerbosityLevel
		want  bool
	}{
		{"existing descendant inherits", etcd, 2, true},
		{"level above the setting stays off", etcd, 3, false},
		{"descendant created later inherits", late, 1, true},
		{"sibling subtree is unaffected", curator, 1, false},
	} {
		if got := tc.l.V(tc.level).Enabled(); got != tc.want {
			t.Errorf("%s: V(%d).Enabled() = %v, want %v", tc.name, tc.level, got, tc.want)
		}
	}

	// A descendant's own level wins over its ancestor's.
	if err := lt.SetVerbosity("root.consensus.etcd", 0); err != nil {
		t.Fatal(err)
	}
	if err := lt.SetVerbosity("root.consensus", 5); err != nil {
		t.Fatal(err)
	}
	if etcd.V(1).Enabled() {
		t.Error("etcd V(1) enabled after setting etcd to 0 and its parent to 5; want etcd's own level to win")
	}

	etcd.V(1).Info("dropped")
	late.V(5).Infof("kept %d", 5)
	if got := backlog(t, lt, "root.consensus", WithChildren()); len(got) != 1 || got[0].Leveled.Message() != "kept 5" {
		t.Errorf("backlog = %v, want only the enabled V message", got)
	}
}

func TestFatalLogsThenPanics(t *testing.T) {
	lt := New()
	l := lt.MustLeveledFor("root")
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "it broke") {
				t.Errorf("recovered %v, want a panic carrying the message", r)
			}
		}()
		l.Fatalf("it %s", "broke")
	}()
	got := backlog(t, lt, "root")
	if len(got) != 1 || got[0].Leveled.Severity() != FATAL {
		t.Errorf("backlog = %v, want one FATAL entry", got)
	}
}

func TestLeveledForRejectsInvalidDN(t *testing.T) {
	if _, err := New().LeveledFor("root..x"); err == nil || !strings.Contains(err.Error(), "name is empty") {
		t.Errorf("LeveledFor(root..x) = %v, want an error about the empty part", err)
	}
}

// logFromInlinedHelper is small enough for the compiler to inline into its
// caller; the recorded location must still be its own line.
func logFromInlinedHelper(l LeveledLogger) { l.Info("from inlined helper") }

func TestLocationThroughInlinedCaller(t *testing.T) {
	src, err := os.ReadFile("leveled_test.go")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "func logFromInlinedHelper") {
			want = i + 1
		}
	}
	lt := New()
	logFromInlinedHelper(lt.MustLeveledFor("root"))
	got := backlog(t, lt, "root")[0].Leveled
	if got.File() != "leveled_test.go" || got.Line() != want {
		t.Errorf("location = %s, want leveled_test.go:%d (inside the inlined helper)", got.Location(), want)
	}
}
