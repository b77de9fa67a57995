package clusterbench

import (
	"strings"
	"testing"
	"time"
)

func TestCarriedNodes(t *testing.T) {
	step := func(nodes int, p99 time.Duration, failures int) LoadStep {
		return LoadStep{Nodes: nodes, Heartbeats: Summary{Count: 10, P99: p99}, Failures: failures}
	}
	goal := 50 * time.Millisecond
	cases := []struct {
		name  string
		steps []LoadStep
		want  int
	}{
		{"no steps carry nothing", nil, 0},
		{"the largest step under the goal counts", []LoadStep{step(500, 3*time.Millisecond, 0), step(1000, 9*time.Millisecond, 0)}, 1000},
		{"a step over the goal does not count", []LoadStep{step(500, 3*time.Millisecond, 0), step(1000, 80*time.Millisecond, 0)}, 500},
		{"a p99 exactly at the goal is not under it", []LoadStep{step(500, goal, 0)}, 0},
		{"a step with failed streams does not count", []LoadStep{step(500, time.Millisecond, 1)}, 0},
		{"a step without samples does not count", []LoadStep{{Nodes: 500}}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := CarriedNodes(c.steps, goal); got != c.want {
				t.Errorf("CarriedNodes = %d, want %d", got, c.want)
			}
		})
	}
}

func TestVerdicts(t *testing.T) {
	cases := []struct {
		name, got, want string
	}{
		{"under the goal is met", underGoal(9*time.Second, 10*time.Second), "met"},
		{"at the goal is missed", underGoal(10*time.Second, 10*time.Second), "missed by 0%"},
		{"a miss says by how much", underGoal(int64(150), int64(100)), "missed by 50%"},
		{"reaching a count goal is met", atLeastGoal(5000, 5000), "met"},
		{"a count short of the goal says how far it got", atLeastGoal(2000, 5000), "missed: 40% of the goal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("verdict %q, want %q", c.got, c.want)
			}
		})
	}
}

func TestReportShowsOnlyScenariosThatRan(t *testing.T) {
	r := &Report{
		Date: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Command: "clusterbench -scenarios launch", Goals: DefaultGoals,
		Launches: []time.Duration{8 * time.Second, 9 * time.Second},
	}
	var b strings.Builder
	r.WriteMarkdown(&b)
	out := b.String()
	for _, want := range []string{"`clusterbench -scenarios launch` (2026-11-23)", "(worst of 2) | under 10s | 9.00 s | met |", "Launch runs: 8.00 s, 9.00 s."} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"approval to UP", "simulated nodes", "VmRSS"} {
		if strings.Contains(out, absent) {
			t.Errorf("report mentions %q although that scenario did not run:\n%s", absent, out)
		}
	}
}
