package logtree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseKmsgRecord(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     string
		want    KmsgRecord
		wantErr string
	}{
		{"info with dictionary lines", "6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n DEVICE=+net:lo\n",
			KmsgRecord{Facility: 0, Level: 6, Sequence: 339, SinceBoot: 5140900 * time.Microsecond, Message: "NET: Registered protocol family 10"}, ""},
		{"user facility warning", "12,1,0,-;from userspace",
			KmsgRecord{Facility: 1, Level: 4, Sequence: 1, Message: "from userspace"}, ""},
		{"continuation flag and extra header field", "3,7,100,c,extra;tail",
			KmsgRecord{Level: 3, Sequence: 7, SinceBoot: 100 * time.Microsecond, Continuation: true, Message: "tail"}, ""},
		{"escapes undone", `4,2,5,-;line1\x0aline2 back\x5cslash \xzz`,
			KmsgRecord{Level: 4, Sequence: 2, SinceBoot: 5 * time.Microsecond, Message: "line1\nline2 back\\slash \\xzz"}, ""},
		{"semicolons in message", "6,3,5,-;a;b",
			KmsgRecord{Level: 6, Sequence: 3, SinceBoot: 5 * time.Microsecond, Message: "a;b"}, ""},
		{"no separator", "6,3,5,- message", KmsgRecord{}, "no ';'"},
		{"too few fields", "6,3;m", KmsgRecord{}, "want at least 4"},
		{"bad priority", "x,3,5,-;m", KmsgRecord{}, `priority "x"`},
		{"bad sequence", "6,-1,5,-;m", KmsgRecord{}, `sequence "-1"`},
		{"bad timestamp", "6,1,1e9,-;m", KmsgRecord{}, `timestamp "1e9"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKmsgRecord([]byte(tc.raw))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestKmsgSeverity(t *testing.T) {
	want := []Severity{ERROR, ERROR, ERROR, ERROR, WARNING, INFO, INFO, INFO}
	for level, w := range want {
		if got := (KmsgRecord{Level: level}).Severity(); got != w {
			t.Errorf("level %d: severity %v, want %v", level, got, w)
		}
	}
}

func FuzzParseKmsg(f *testing.F) {
	f.Add([]byte("6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n"))
	f.Add([]byte(`3,7,100,c,extra;a\x0ab\x5c`))
	f.Add([]byte("0,0,0,;"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := ParseKmsgRecord(raw)
		if err != nil {
			return
		}
		if r.Level < 0 || r.Level > 7 || r.Facility < 0 || r.SinceBoot < 0 {
			t.Errorf("accepted %q as %+v", raw, r)
		}
		if !r.Severity().Valid() {
			t.Errorf("record %+v maps to invalid severity", r)
		}
		if len(r.Message) > len(raw) {
			t.Errorf("message %q longer than the record %q", r.Message, raw)
		}
	})
}

// TestKmsgPipeReadsTheRealKernelLog writes a marker into the kernel log and
// expects KmsgPipe to deliver it as a leveled entry.
func TestKmsgPipeReadsTheRealKernelLog(t *testing.T) {
	w, err := os.OpenFile(KmsgPath, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot write %s (needs Linux and root): %v", KmsgPath, err)
	}
	defer w.Close()
	r, err := os.Open(KmsgPath)
	if err != nil {
		t.Skipf("cannot read %s: %v", KmsgPath, err)
	}
	r.Close()

	marker := fmt.Sprintf("logtree-kmsg-test-%d", time.Now().UnixNano())
	// <12> is facility user, level warning.
	if _, err := fmt.Fprintf(w, "<12>%s\n", marker); err != nil {
		t.Skipf("cannot write to %s: %v", KmsgPath, err)
	}

	lt := New()
	stream, err := lt.Read("root.kernel", WithStream(), WithStreamBuffer(100000))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- KmsgPipe(ctx, lt.MustLeveledFor("root.kernel")) }()

	timeout := time.After(30 * time.Second)
	for found := false; !found; {
		select {
		case e := <-stream.Stream:
			if e.Leveled != nil && strings.Contains(e.Leveled.Message(), marker) {
				found = true
				if e.Leveled.Severity() != WARNING {
					t.Errorf("marker severity %v, want WARNING", e.Leveled.Severity())
				}
				if d := time.Since(e.Leveled.Timestamp()); d < -time.Minute || d > time.Minute {
					t.Errorf("marker timestamp %v is %v away from now, want close", e.Leveled.Timestamp(), d)
				}
			}
		case <-timeout:
			t.Fatal("marker did not show up in the kernel log stream")
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("KmsgPipe returned %v after cancel, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("KmsgPipe did not return after its context was cancelled")
	}
}
