package localvolume

import "testing"

func TestReserve(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name        string
		total       int64
		wantReserve int64
	}{
		{"a small test disk keeps 1 GiB", 3 * gib, gib},
		{"a fifth of a mid-sized disk", 100 * gib, 20 * gib},
		{"at most 64 GiB of a large disk", 1000 * gib, 64 * gib},
		{"an empty report keeps 1 GiB", 0, gib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reserve(tc.total); got != tc.wantReserve {
				t.Errorf("Reserve(%d) = %d, want %d", tc.total, got, tc.wantReserve)
			}
		})
	}
}
