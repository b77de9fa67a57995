package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Event is one line of `go test -json` (cmd/test2json's TestEvent).
type Event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// tailLines is how many of a test's last output lines the summary repeats.
const tailLines = 40

// Report follows a `go test -json` stream and knows, at any point, which tests failed, which
// are running and what each printed last.
type Report struct {
	// tails are the last output lines of every test seen, by package and test name.
	tails map[string][]string
	// running are the tests started and not yet ended, in start order.
	running []string
	// failed are the tests and packages that failed, in the order they did.
	failed []string
	// panicked are the first lines of a package's panic (a timeout's "running tests:" list),
	// by package.
	panicked map[string][]string
}

// NewReport returns an empty Report.
func NewReport() *Report {
	return &Report{tails: map[string][]string{}, panicked: map[string][]string{}}
}

func key(pkg, test string) string {
	if test == "" {
		return pkg
	}
	return pkg + " " + test
}

// Add takes one event into the report.
func (r *Report) Add(e Event) {
	k := key(e.Package, e.Test)
	switch e.Action {
	case "run":
		r.running = append(r.running, k)
	case "output":
		r.addOutput(e, k)
	case "pass", "skip":
		r.end(k)
	case "fail":
		r.end(k)
		r.failed = append(r.failed, k)
	}
}

func (r *Report) addOutput(e Event, k string) {
	line := strings.TrimRight(e.Output, "\n")
	if p := r.panicked[e.Package]; p != nil {
		// After a panic, keep its first lines only: the message and, for a timeout, the
		// list of running tests, which ends at the first empty line. Goroutine dumps follow.
		if len(p) < 30 && (len(p) == 1 || p[len(p)-1] != "") {
			r.panicked[e.Package] = append(p, line)
		}
		return
	}
	if strings.HasPrefix(line, "panic: ") {
		r.panicked[e.Package] = []string{line}
		return
	}
	// Status lines of -v are not worth repeating in a test's tail.
	trimmed := strings.TrimSpace(line)
	if strings.HasPrefix(trimmed, "=== ") || strings.HasPrefix(trimmed, "--- ") {
		return
	}
	t := append(r.tails[k], line)
	if len(t) > tailLines {
		t = t[len(t)-tailLines:]
	}
	r.tails[k] = t
}

func (r *Report) end(k string) {
	if i := slices.Index(r.running, k); i >= 0 {
		r.running = slices.Delete(r.running, i, i+1)
	}
}

// Failed says whether any test or package failed.
func (r *Report) Failed() bool { return len(r.failed) > 0 }

// WriteSummary writes what failed, if anything did: each failed test with its last lines (a
// failed parent is left out when one of its subtests failed, which says more), and each
// package that panicked with its panic and the last lines of the tests it was running.
func (r *Report) WriteSummary(w io.Writer) {
	if !r.Failed() {
		return
	}
	fmt.Fprintf(w, "\n== what failed (%d)\n", len(r.failed))
	for _, k := range r.failed {
		pkg, test, _ := strings.Cut(k, " ")
		if test == "" {
			if p := r.panicked[pkg]; p != nil {
				fmt.Fprintf(w, "\n-- package %s panicked:\n%s\n", pkg, strings.Join(p, "\n"))
				r.writeRunning(w, pkg)
			} else if !r.hasFailedChild(pkg + " ") {
				// A build error, or a failure outside any test (TestMain).
				fmt.Fprintf(w, "\n-- package %s failed; its last lines:\n%s\n", pkg, strings.Join(r.tails[pkg], "\n"))
			}
			continue
		}
		if r.hasFailedChild(k) {
			continue
		}
		fmt.Fprintf(w, "\n-- %s failed; its last lines:\n%s\n", k, strings.Join(r.tails[k], "\n"))
	}
}

// writeRunning writes the last lines of pkg's tests that had not ended when it failed.
func (r *Report) writeRunning(w io.Writer, pkg string) {
	for _, k := range r.running {
		if p, _, _ := strings.Cut(k, " "); p != pkg || k == pkg {
			continue
		}
		if r.hasRunningChild(k) {
			continue
		}
		if len(r.tails[k]) > 0 {
			fmt.Fprintf(w, "\n-- %s was still running; its last lines:\n%s\n", k, strings.Join(r.tails[k], "\n"))
			continue
		}
		// A test that printed nothing hangs in its first step; what led there is in the
		// lines of the nearest enclosing test that printed any.
		fmt.Fprintf(w, "\n-- %s was still running and had printed nothing", k)
		for parent := k; strings.Contains(parent, "/"); {
			parent = parent[:strings.LastIndex(parent, "/")]
			if len(r.tails[parent]) > 0 {
				fmt.Fprintf(w, "; the last lines of %s:\n%s", parent, strings.Join(r.tails[parent], "\n"))
				break
			}
		}
		fmt.Fprintln(w)
	}
}

// hasFailedChild says whether a test under k failed: a subtest (k+"/") or, for k = pkg+" ",
// any test of the package.
func (r *Report) hasFailedChild(k string) bool {
	prefix := k
	if !strings.HasSuffix(k, " ") {
		prefix = k + "/"
	}
	return slices.ContainsFunc(r.failed, func(f string) bool { return strings.HasPrefix(f, prefix) })
}

func (r *Report) hasRunningChild(k string) bool {
	return slices.ContainsFunc(r.running, func(f string) bool { return strings.HasPrefix(f, k+"/") })
}
