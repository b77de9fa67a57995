package testenv

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setShort sets -test.short for the rest of t.
func setShort(t *testing.T, on bool) {
	was := testing.Short()
	value := map[bool]string{true: "true", false: "false"}
	if err := flag.Set("test.short", value[on]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("test.short", value[was]) })
}

func TestUnsupportedReason(t *testing.T) {
	noRoot := errors.New("not running as root")
	for _, tc := range []struct {
		name  string
		short bool
		check func() error
		want  string
	}{
		{"-short wins over the host", true, func() error { return noRoot }, "-short: they take minutes"},
		{"the host's reason", false, func() error { return noRoot }, "not running as root"},
		{"a host that can", false, func() error { return nil }, ""},
		{"no host check", false, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setShort(t, tc.short)
			s := &Suite{Name: "x", Short: "they take minutes", CheckHost: tc.check}
			if got := s.unsupportedReason(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRequireSkipsWithTheReason(t *testing.T) {
	s := &Suite{skip: "-short: they take minutes"}
	var ran bool
	t.Run("inner", func(t *testing.T) {
		s.Require(t)
		ran = true
	})
	if ran {
		t.Error("a test went on past Require although the suite skips")
	}
	ok := t.Run("runs", func(t *testing.T) { (&Suite{}).Require(t) })
	if !ok {
		t.Error("Require failed a test of a suite that can run")
	}
}

func TestPrebuiltFromTheEnvironment(t *testing.T) {
	s := &Suite{Name: "x", dir: t.TempDir()}
	t.Chdir(t.TempDir())
	if err := os.WriteFile("kube", []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(KubeBinaryEnv, "kube")
	t.Setenv(RuntimeDirEnv, "runtime")
	wd, _ := os.Getwd()
	kube, err := s.KubeBinary()
	if err != nil || kube != filepath.Join(wd, "kube") {
		t.Errorf("KubeBinary() = %q, %v; want %s made absolute", kube, err, KubeBinaryEnv)
	}
	runtime, err := s.RuntimeDir()
	if err != nil || runtime != filepath.Join(wd, "runtime") {
		t.Errorf("RuntimeDir() = %q, %v; want %s made absolute", runtime, err, RuntimeDirEnv)
	}
	t.Setenv(KubeBinaryEnv, "missing")
	if _, err := s.KubeBinary(); err == nil || !strings.Contains(err.Error(), "kube binary") {
		t.Errorf("KubeBinary() with %s naming no file: err %v, want it to say so", KubeBinaryEnv, err)
	}
}

func TestGoBuildFailureNamesTheTarget(t *testing.T) {
	s := &Suite{Name: "x", dir: t.TempDir()}
	out, err := s.GoBuild("metropolis.dev/metropolis/no/such/package")
	if err == nil {
		t.Fatal("building a package that does not exist succeeded")
	}
	if want := filepath.Join(s.dir, "package"); out != want || !strings.Contains(err.Error(), want) {
		t.Errorf("GoBuild = %q, %v; want the path %s, named in the error", out, err, want)
	}
}

// recorder keeps what a test logs.
type recorder struct {
	testing.TB
	lines []string
}

func (r *recorder) Log(args ...any) {
	for _, a := range args {
		r.lines = append(r.lines, a.(string))
	}
}

func TestLogWriterDropsTrailingNewlines(t *testing.T) {
	r := &recorder{TB: t}
	w := LogWriter(r)
	if n, err := w.Write([]byte("step 1: network up\n")); n != 19 || err != nil {
		t.Errorf("Write = %d, %v; want 19, nil", n, err)
	}
	if len(r.lines) != 1 || r.lines[0] != "step 1: network up" {
		t.Errorf("logged %q, want the line without its newline", r.lines)
	}
}

func TestLastProblems(t *testing.T) {
	log := strings.Join([]string{
		"I1124 08:00:00.000000 root.node x.go:1] fine",
		"W1124 08:00:01.000000 root.node x.go:2] first warning",
		"E1124 08:00:02.000000     110 reflector.go:227] an upstream error",
		"R1124 08:00:03.000000 root.node.worker.containerd] raw line",
		"W1124 08:00:04.000000 root.node x.go:3] " + strings.Repeat("x", 400),
	}, "\n")
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{n: 10, want: []string{"first warning", "an upstream error", "x.go:3"}},
		{n: 1, want: []string{"x.go:3"}},
	} {
		got := lastProblems(log, tc.n)
		lines := strings.Split(got, "\n")
		if len(lines) != len(tc.want) {
			t.Fatalf("n=%d: %d lines, want %d:\n%s", tc.n, len(lines), len(tc.want), got)
		}
		for i, w := range tc.want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("n=%d: line %d %q lacks %q", tc.n, i, lines[i], w)
			}
			if len(lines[i]) > 310 {
				t.Errorf("n=%d: line %d not cut: %d bytes", tc.n, i, len(lines[i]))
			}
		}
	}
}
