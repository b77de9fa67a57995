package image

import (
	"strings"
	"testing"
)

func TestOSRelease(t *testing.T) {
	for _, tc := range []struct {
		version, pretty string
	}{
		{"0.3.0\n", `PRETTY_NAME="Metropolis 0.3.0"`},
		{"", `PRETTY_NAME="Metropolis dev"`},
		{"1.0\"\n$(x)`\\", `PRETTY_NAME="Metropolis 1.0(x)"`},
		{strings.Repeat("9", 100), `PRETTY_NAME="Metropolis ` + strings.Repeat("9", 64) + `"`},
	} {
		got := osRelease(tc.version)
		if !strings.Contains(got, "\n"+tc.pretty+"\n") || !strings.HasPrefix(got, "NAME=\"Metropolis\"\nID=metropolis\n") {
			t.Errorf("osRelease(%q) = %q, want a line %s", tc.version, got, tc.pretty)
		}
		if n := strings.Count(got, "\n"); n != 4 {
			t.Errorf("osRelease(%q) has %d lines, want 4: %q", tc.version, n, got)
		}
	}
}
