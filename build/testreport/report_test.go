package main

import (
	"strings"
	"testing"
)

func ev(action, pkg, test, output string) Event {
	return Event{Action: action, Package: pkg, Test: test, Output: output}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []Event
		// want are lines the summary must contain; unwanted, lines it must not.
		want, unwanted []string
	}{{
		name: "everything passed",
		events: []Event{
			ev("run", "p", "TestA", ""),
			ev("output", "p", "TestA", "    a_test.go:1: fine\n"),
			ev("pass", "p", "TestA", ""),
			ev("pass", "p", "", ""),
		},
	}, {
		name: "a subtest failed: its lines, not its parent's",
		events: []Event{
			ev("run", "p", "TestA", ""),
			ev("output", "p", "TestA", "    a_test.go:1: parent says\n"),
			ev("run", "p", "TestA/sub", ""),
			ev("output", "p", "TestA/sub", "=== RUN   TestA/sub\n"),
			ev("output", "p", "TestA/sub", "    a_test.go:2: the node is DOWN\n"),
			ev("output", "p", "TestA/sub", "    --- FAIL: TestA/sub (1.00s)\n"),
			ev("fail", "p", "TestA/sub", ""),
			ev("fail", "p", "TestA", ""),
			ev("fail", "p", "", ""),
		},
		want:     []string{"-- p TestA/sub failed", "a_test.go:2: the node is DOWN"},
		unwanted: []string{"parent says", "--- FAIL", "=== RUN", "-- package p failed"},
	}, {
		name: "a timeout names the running tests and what they logged last, without goroutines",
		events: []Event{
			ev("run", "p", "TestA", ""),
			ev("run", "p", "TestA/rollout", ""),
			ev("output", "p", "TestA/rollout", "    r_test.go:9: still waiting for the rollout done after 30m\n"),
			ev("output", "p", "", "panic: test timed out after 1h0m0s\n"),
			ev("output", "p", "", "\trunning tests:\n"),
			ev("output", "p", "", "\t\tTestA/rollout (35m0s)\n"),
			ev("output", "p", "", "\n"),
			ev("output", "p", "", "goroutine 984 [select]:\n"),
			ev("fail", "p", "", ""),
		},
		want:     []string{"package p panicked", "TestA/rollout (35m0s)", "-- p TestA/rollout was still running", "still waiting for the rollout done"},
		unwanted: []string{"goroutine 984", "-- p TestA was still running"},
	}, {
		name: "a hung subtest that printed nothing is shown with its parent's last lines",
		events: []Event{
			ev("run", "p", "TestA", ""),
			ev("output", "p", "TestA", "    a_test.go:5: node 3 leads the curator\n"),
			ev("run", "p", "TestA/reboot", ""),
			ev("output", "p", "TestA/reboot", "=== RUN   TestA/reboot\n"),
			ev("output", "p", "", "panic: test timed out after 1h0m0s\n"),
			ev("output", "p", "", "\n"),
			ev("fail", "p", "", ""),
		},
		want: []string{"-- p TestA/reboot was still running and had printed nothing; the last lines of p TestA:", "node 3 leads the curator"},
	}, {
		name: "a build failure shows the package's own lines",
		events: []Event{
			ev("output", "p", "", "# p\n"),
			ev("output", "p", "", "x.go:3: undefined: y\n"),
			ev("fail", "p", "", ""),
		},
		want: []string{"-- package p failed", "undefined: y"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReport()
			for _, e := range tc.events {
				r.Add(e)
			}
			var b strings.Builder
			r.WriteSummary(&b)
			got := b.String()
			if (len(tc.want) == 0) != !r.Failed() {
				t.Errorf("Failed() = %v", r.Failed())
			}
			if len(tc.want) == 0 && got != "" {
				t.Errorf("summary of a passing run:\n%s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary lacks %q:\n%s", w, got)
				}
			}
			for _, u := range tc.unwanted {
				if strings.Contains(got, u) {
					t.Errorf("summary has %q:\n%s", u, got)
				}
			}
		})
	}
}
