package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write, cat and fill as the volume tests use them, and their refusals.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	runOK := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != 0 {
			t.Fatalf("%v: exit status %d: %s", args, code, out.String())
		}
		return out.String()
	}
	greeting := filepath.Join(dir, "greeting")
	runOK("write", greeting, "hello volume")
	if got := runOK("cat", greeting); got != "hello volume" {
		t.Errorf("cat printed %q", got)
	}
	if got := runOK("cat", greeting, "-bytes", "5"); got != "hello" {
		t.Errorf("cat -bytes 5 printed %q", got)
	}
	big := filepath.Join(dir, "big")
	if got := runOK("fill", big, "-mib", "3"); !strings.Contains(got, "wrote 3 MiB") {
		t.Errorf("fill printed %q", got)
	}
	if st, err := os.Stat(big); err != nil || st.Size() != 3<<20 {
		t.Errorf("fill -mib 3 left %v, %v", st, err)
	}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"cat", filepath.Join(dir, "absent")}, 1, "no such file"},
		{[]string{"fill", big, "-mib", "0"}, 2, "not positive"},
		{[]string{"write", greeting}, 2, "usage"},
		{[]string{"cat", greeting, "-bytes", "-1"}, 2, "negative"},
		{[]string{"fill", filepath.Join(dir, "no", "dir"), "-mib", "1"}, 1, "no such file"},
	} {
		var out bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &out); code != tc.code || !strings.Contains(out.String(), tc.says) {
			t.Errorf("%v: exit status %d, %q; want %d saying %q", tc.args, code, out.String(), tc.code, tc.says)
		}
	}
}
