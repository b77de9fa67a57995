package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		wantErr   string // empty: accepted
		wantSteps []int
	}{
		{"defaults step up to the goal of 5000 nodes", []string{"-node-binary", "/n"}, "", []int{500, 1000, 2000, 5000}},
		{"steps are taken as given", []string{"-node-binary", "/n", "-steps", "10,20"}, "", []int{10, 20}},
		{"no node binary is refused", nil, "-node-binary: required", nil},
		{"an unknown scenario is named", []string{"-node-binary", "/n", "-scenarios", "launch,speed"}, `unknown scenario "speed"`, nil},
		{"steps that do not ascend are refused", []string{"-node-binary", "/n", "-steps", "1000,500"}, "-steps", nil},
		{"a step that is not a number is refused", []string{"-node-binary", "/n", "-steps", "5k"}, "-steps", nil},
		{"zero approvals are refused", []string{"-node-binary", "/n", "-approvals", "0"}, "-approvals", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseFlags(c.args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("parseFlags(%q) error = %v, want one mentioning %q", c.args, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", c.args, err)
			}
			if !slices.Equal(o.load.Steps, c.wantSteps) {
				t.Errorf("steps = %v, want %v", o.load.Steps, c.wantSteps)
			}
		})
	}
}
