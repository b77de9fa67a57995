package pki

import (
	"testing"
	"time"
)

func TestRenewAt(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		until time.Time
		want  time.Time
	}{
		{"a year", from.Add(365 * 24 * time.Hour), from.Add(243*24*time.Hour + 8*time.Hour)},
		{"three seconds", from.Add(3 * time.Second), from.Add(2 * time.Second)},
		{"already expired (until before from)", from.Add(-3 * time.Second), from.Add(-2 * time.Second)},
	} {
		if got := RenewAt(from, tc.until); !got.Equal(tc.want) {
			t.Errorf("%s: RenewAt = %s, want %s", tc.name, got, tc.want)
		}
	}
}
