package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
	"metropolis.dev/metropolis/osbase/logtree"
)

// commandRunnable runs a shell script under RunCommand.
func commandRunnable(script string, opts ...CommandOption) Runnable {
	return func(ctx context.Context) error {
		return RunCommand(ctx, exec.Command("sh", "-c", script), opts...)
	}
}

// processGone reports whether pid has exited: no longer in /proc, or a
// zombie waiting for whoever inherited it.
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// gone is a check that passes once pid has exited (see processGone).
func gone(pid int) func(context.Context) error {
	return func(context.Context) error {
		if !processGone(pid) {
			return fmt.Errorf("process %d still there", pid)
		}
		return nil
	}
}

// pidFromLog waits for a raw line "<label> <pid>" in dn and returns the pid.
func pidFromLog(t *testing.T, lt *logtree.LogTree, dn logtree.DN, label string) int {
	t.Helper()
	re := regexp.MustCompile(`^` + label + ` (\d+)$`)
	var pid int
	eventually.Pass(t, patience, label+" pid in the log of "+string(dn), func(context.Context) error {
		r, err := lt.Read(dn, logtree.WithBacklog(logtree.BacklogAll), logtree.OnlyRaw())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for _, e := range r.Backlog {
			if m := re.FindStringSubmatch(e.Raw.Data()); m != nil {
				pid, _ = strconv.Atoi(m[1])
				return nil
			}
		}
		return fmt.Errorf("no raw line matches %s", re)
	})
	return pid
}

func TestCommandOutputGoesToTheLogTree(t *testing.T) {
	s, _ := startTree(t, withChild("proc", commandRunnable(`echo to stdout; echo to stderr >&2; printf partial; sleep 1000`)))
	waitState(t, s, "root.proc", "healthy once started", func(st NodeState) bool { return st.State == StateHealthy })
	eventually.Pass(t, patience, "the stdout line", logged(t, s.LogTree(), "root.proc", "R", "root.proc] to stdout"))
	eventually.Pass(t, patience, "the stderr line", logged(t, s.LogTree(), "root.proc", "R", "root.proc] to stderr"))
}

func TestCommandNonZeroExitRestarts(t *testing.T) {
	s, _ := startTree(t, withChild("proc", commandRunnable(`echo attempt; exit 3`)))
	st := waitState(t, s, "root.proc", "restarted twice", func(st NodeState) bool { return st.Restarts >= 2 })
	if st.LastError == nil || !strings.Contains(st.LastError.Error(), "exit status 3") {
		t.Errorf("LastError = %v, want it to carry exit status 3", st.LastError)
	}
	if !logContains(t, s.LogTree(), "root.proc", "runnable failed", "exit status 3") {
		t.Error("exit status not in the runnable's log")
	}
}

func TestCommandExitZeroIsStillAFailure(t *testing.T) {
	s, _ := startTree(t, withChild("proc", commandRunnable(`true`)))
	st := waitState(t, s, "root.proc", "restarted", func(st NodeState) bool { return st.Restarts >= 1 })
	if st.LastError == nil || !strings.Contains(st.LastError.Error(), "exited with status 0") {
		t.Errorf("LastError = %v, want it to say the command exited with status 0", st.LastError)
	}
}

func TestCommandCancellationKillsProcessGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		// wantLog is what the runnable's log must say about stopping.
		wantLog string
	}{
		{"SIGTERM reaches the grandchild", `sleep 1000 & echo grandchild $!; wait`, "sending SIGTERM"},
		{"SIGKILL after the grace period", `trap "" TERM; sleep 1000 & echo grandchild $!; while :; do wait; done`, "sending SIGKILL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cancel := startTree(t, withChild("proc", commandRunnable(tc.script, WithGracePeriod(100*time.Millisecond))))
			grandchild := pidFromLog(t, s.LogTree(), "root.proc", "grandchild")
			if processGone(grandchild) {
				t.Fatalf("grandchild %d not running before cancellation", grandchild)
			}
			cancel()
			select {
			case <-s.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("tree did not stop")
			}
			eventually.Pass(t, patience, "grandchild to be gone", gone(grandchild))
			if !logContains(t, s.LogTree(), "root.proc", tc.wantLog) {
				t.Errorf("log of root.proc does not contain %q", tc.wantLog)
			}
		})
	}
}

func TestCommandLeftoverGrandchildIsKilledOnExit(t *testing.T) {
	s, _ := startTree(t, withChild("proc", commandRunnable(`sleep 1000 & echo grandchild $!; exit 1`)))
	grandchild := pidFromLog(t, s.LogTree(), "root.proc", "grandchild")
	waitState(t, s, "root.proc", "restarted", func(st NodeState) bool { return st.Restarts >= 1 })
	eventually.Pass(t, patience, "grandchild of the exited process to be gone", gone(grandchild))
}

func TestCommandKlogLinesBecomeLeveled(t *testing.T) {
	script := `echo 'W0102 15:04:05.000000    4242 server.go:77] apiserver is slow'; echo 'not klog'; sleep 1000`
	s, _ := startTree(t, withChild("apiserver", commandRunnable(script, WithLineParser(logtree.ParseKlog))))
	var leveled *logtree.LeveledPayload
	eventually.Pass(t, patience, "the klog line as a leveled entry", func(context.Context) error {
		r, err := s.LogTree().Read("root.apiserver", logtree.WithBacklog(logtree.BacklogAll), logtree.OnlyLeveled())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for _, e := range r.Backlog {
			if e.Leveled.File() == "server.go" {
				leveled = e.Leveled
				return nil
			}
		}
		return errors.New("no leveled entry from server.go")
	})
	if leveled.Severity() != logtree.WARNING || leveled.Line() != 77 || leveled.Message() != "apiserver is slow" {
		t.Errorf("parsed entry = %v at %s: %q; want WARNING at server.go:77: apiserver is slow", leveled.Severity(), leveled.Location(), leveled.Message())
	}
	eventually.Pass(t, patience, "the other line to stay raw", logged(t, s.LogTree(), "root.apiserver", "R", "] not klog"))
}

func TestRunCommandRejectsPresetOutput(t *testing.T) {
	s, _ := startTree(t, withChild("proc", func(ctx context.Context) error {
		cmd := exec.Command("true")
		cmd.Stdout = os.Stdout
		return RunCommand(ctx, cmd)
	}))
	st := waitState(t, s, "root.proc", "failed", func(st NodeState) bool { return st.LastError != nil })
	if !strings.Contains(st.LastError.Error(), "must be unset") {
		t.Errorf("LastError = %v, want it to say Stdout must be unset", st.LastError)
	}
}
