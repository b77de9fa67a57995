package k8sbench

import (
	"os"
	"testing"
)

func TestParentPID(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       int
		wantErr    bool
	}{
		{"plain", "42 (kube) S 7 42 42 0 -1", 7, false},
		{"name with spaces and parentheses", "42 (a (b) c) R 9 42 42", 9, false},
		{"truncated", "42 (kube) S", 0, true},
		{"no name", "42 kube S 7", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParentPID(tc.stat)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParentPID(%q) = %d, %v; want %d (error %v)", tc.stat, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzParentPID(f *testing.F) {
	f.Add("42 (kube) S 7 42 42 0 -1")
	f.Add("1 ()) R 0")
	f.Fuzz(func(t *testing.T, stat string) {
		_, _ = ParentPID(stat) // must not panic
	})
}

func TestProcessTreeOfThisProcess(t *testing.T) {
	procs, err := ProcessTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) == 0 || procs[0].PID != os.Getpid() || procs[0].RSS <= 0 {
		t.Errorf("ProcessTree(self) = %+v, want this process first with its RSS", procs)
	}
}
