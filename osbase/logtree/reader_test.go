package logtree

import (
	"fmt"
	"testing"
	"time"
)

// messages returns the text of each entry: the message of leveled entries,
// the data of raw ones.
func messages(entries []*LogEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		if e.Leveled != nil {
			out[i] = e.Leveled.Message()
		} else {
			out[i] = e.Raw.Data()
		}
	}
	return out
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) && len(a) == len(b) }

// populate writes a fixed mix of entries across a small tree, in this order.
func populate(t *testing.T, lt *LogTree) {
	t.Helper()
	a := lt.MustLeveledFor("root.a")
	b := lt.MustLeveledFor("root.a.b")
	c := lt.MustLeveledFor("root.c")
	raw, err := lt.RawFor("root.a.b")
	if err != nil {
		t.Fatal(err)
	}
	a.Info("a1")
	b.Warning("b1")
	c.Error("c1")
	fmt.Fprintln(raw, "braw")
	a.Error("a2")
}

func TestReadBacklog(t *testing.T) {
	for _, tc := range []struct {
		name string
		dn   DN
		opts []ReadOption
		want []string
	}{
		{"no backlog unless asked", "root.a", nil, []string{}},
		{"one DN only", "root.a", []ReadOption{WithBacklog(BacklogAll)}, []string{"a1", "a2"}},
		{"subtree in write order", "root.a", []ReadOption{WithBacklog(BacklogAll), WithChildren()}, []string{"a1", "b1", "braw", "a2"}},
		{"whole tree from the root DN", "", []ReadOption{WithBacklog(BacklogAll), WithChildren()}, []string{"a1", "b1", "c1", "braw", "a2"}},
		{"last n entries", "", []ReadOption{WithBacklog(2), WithChildren()}, []string{"braw", "a2"}},
		{"minimum severity keeps raw", "", []ReadOption{WithBacklog(BacklogAll), WithChildren(), LeveledWithMinimumSeverity(WARNING)}, []string{"b1", "c1", "braw", "a2"}},
		{"minimum severity and only leveled", "", []ReadOption{WithBacklog(BacklogAll), WithChildren(), LeveledWithMinimumSeverity(ERROR), OnlyLeveled()}, []string{"c1", "a2"}},
		{"only raw", "", []ReadOption{WithBacklog(BacklogAll), WithChildren(), OnlyRaw()}, []string{"braw"}},
		{"filter applies before counting", "", []ReadOption{WithBacklog(1), WithChildren(), OnlyRaw()}, []string{"braw"}},
		{"DN never written to", "root.nothing", []ReadOption{WithBacklog(BacklogAll)}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := New()
			populate(t, lt)
			r, err := lt.Read(tc.dn, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := messages(r.Backlog); !equal(got, tc.want) {
				t.Errorf("backlog = %q, want %q", got, tc.want)
			}
			if r.Stream != nil {
				t.Error("Stream is set without WithStream")
			}
		})
	}
}

func TestReadRejectsBadOptions(t *testing.T) {
	lt := New()
	for _, tc := range []struct {
		name string
		dn   DN
		opts []ReadOption
	}{
		{"invalid DN", "a..b", nil},
		{"raw and leveled only", "a", []ReadOption{OnlyRaw(), OnlyLeveled()}},
		{"negative backlog", "a", []ReadOption{WithBacklog(-5)}},
		{"zero stream buffer", "a", []ReadOption{WithStream(), WithStreamBuffer(0)}},
	} {
		if _, err := lt.Read(tc.dn, tc.opts...); err == nil {
			t.Errorf("%s: Read succeeded, want an error", tc.name)
		}
	}
}

// receive takes n entries from the stream or fails after a generous timeout.
func receive(t *testing.T, ch <-chan *LogEntry, n int) []*LogEntry {
	t.Helper()
	var out []*LogEntry
	for len(out) < n {
		select {
		case e := <-ch:
			out = append(out, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d entries from stream, want %d", len(out), n)
		}
	}
	return out
}

func TestStreamDeliversNewEntriesOfTheSubtree(t *testing.T) {
	lt := New()
	lt.MustLeveledFor("root.a").Info("before")
	r, err := lt.Read("root.a", WithChildren(), WithStream(), WithBacklog(BacklogAll), LeveledWithMinimumSeverity(WARNING))
	if err != nil {
		t.Fatal(err)
	}
	lt.MustLeveledFor("root.a").Info("too low")
	lt.MustLeveledFor("root.other").Error("other subtree")
	lt.MustLeveledFor("root.a.child").Warning("child warning")
	lt.MustLeveledFor("root.a").Error("own error")

	got := messages(receive(t, r.Stream, 2))
	if want := []string{"child warning", "own error"}; !equal(got, want) {
		t.Errorf("stream = %q, want %q", got, want)
	}
	if len(r.Backlog) != 0 {
		t.Errorf("backlog = %q, want empty: the INFO entry is below the minimum", messages(r.Backlog))
	}
	r.Close()
	if _, open := <-r.Stream; open {
		t.Error("stream still open after Close")
	}
	r.Close() // a second Close is harmless
}

func TestStreamWithoutChildrenIgnoresDescendants(t *testing.T) {
	lt := New()
	r, err := lt.Read("root", WithStream())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lt.MustLeveledFor("root.child").Info("child")
	lt.MustLeveledFor("root").Info("own")
	if got := messages(receive(t, r.Stream, 1)); got[0] != "own" {
		t.Errorf("first streamed entry = %q, want own (child entries excluded)", got[0])
	}
}

func TestSlowStreamReaderMissesEntriesWithoutBlockingWriters(t *testing.T) {
	lt := New()
	r, err := lt.Read("root", WithStream(), WithStreamBuffer(3))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := lt.MustLeveledFor("root")
	// Nobody drains the stream. If logging waited for the reader this
	// would hang and the test would time out.
	for i := 0; i < 10; i++ {
		l.Infof("%d", i)
	}
	if got := r.Missed(); got != 7 {
		t.Errorf("Missed() = %d, want 7 (10 written, 3 buffered)", got)
	}
	if got := messages(receive(t, r.Stream, 3)); !equal(got, []string{"0", "1", "2"}) {
		t.Errorf("buffered = %q, want the first three", got)
	}
	if got := len(backlog(t, lt, "root")); got != 10 {
		t.Errorf("tree holds %d entries, want all 10: a slow reader must not cost the tree entries", got)
	}
}

func TestNodeCapacityKeepsNewestEntries(t *testing.T) {
	lt := New(WithNodeCapacity(3))
	a, b := lt.MustLeveledFor("a"), lt.MustLeveledFor("b")
	for i := 0; i < 5; i++ {
		a.Infof("a%d", i)
	}
	b.Info("b0")
	if got := messages(backlog(t, lt, "a")); !equal(got, []string{"a2", "a3", "a4"}) {
		t.Errorf("a = %q, want the newest three", got)
	}
	if got := messages(backlog(t, lt, "b")); !equal(got, []string{"b0"}) {
		t.Errorf("b = %q, want its own entry untouched by a's eviction", got)
	}
}

func TestGlobalCapacityEvictsOldestAcrossNodes(t *testing.T) {
	lt := New(WithNodeCapacity(100), WithGlobalCapacity(4))
	a, b := lt.MustLeveledFor("root.a"), lt.MustLeveledFor("root.b")
	a.Info("a0")
	b.Info("b0")
	a.Info("a1")
	b.Info("b1")
	b.Info("b2")
	a.Info("a2")
	if got := messages(backlog(t, lt, "", WithChildren())); !equal(got, []string{"a1", "b1", "b2", "a2"}) {
		t.Errorf("tree = %q, want the newest four across both DNs", got)
	}
	if got := messages(backlog(t, lt, "root.a")); !equal(got, []string{"a1", "a2"}) {
		t.Errorf("root.a = %q, want a1, a2", got)
	}
}

func TestDNsListsEverySourceSeen(t *testing.T) {
	lt := New()
	lt.MustLeveledFor("root.a.b")
	got := map[DN]bool{}
	for _, dn := range lt.DNs() {
		got[dn] = true
	}
	if len(got) != 3 || !got["root"] || !got["root.a"] || !got["root.a.b"] {
		t.Errorf("DNs() = %v, want root, root.a, root.a.b", lt.DNs())
	}
}
