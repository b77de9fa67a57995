package pageout

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExecutableRegions(t *testing.T) {
	const maps = `00400000-04623000 r-xp 00000000 fe:00 10330328                           /bin/my kube
04623000-094aa000 r--p 04223000 fe:00 10330328                           /bin/my kube
094aa000-095f8000 rw-p 090aa000 fe:00 10330328                           /bin/my kube
3dbc79400000-3dbc7a400000 rw-p 00000000 00:00 0 
7f908b2a0000-7f908b700000 r--p 00000000 fe:00 42                         /lib/other.so
7ffd5e1f2000-7ffd5e213000 rw-p 00000000 00:00 0                          [stack]
`
	for _, tc := range []struct {
		name, maps, exe string
		want            []Region
		wantErr         bool
	}{
		{name: "code and read-only data of the executable", maps: maps, exe: "/bin/my kube",
			want: []Region{{0x400000, 0x4623000}, {0x4623000, 0x94aa000}}},
		{name: "another file", maps: maps, exe: "/lib/other.so", want: []Region{{0x7f908b2a0000, 0x7f908b700000}}},
		{name: "not mapped", maps: maps, exe: "/bin/kube"},
		{name: "empty", maps: "", exe: "/bin/kube"},
		{name: "too few fields", maps: "00400000-04623000 r-xp 0\n", exe: "/x", wantErr: true},
		{name: "bad range", maps: "0040000g-04623000 r-xp 00000000 fe:00 1 /x\n", exe: "/x", wantErr: true},
		{name: "reversed range", maps: "05000000-04623000 r-xp 00000000 fe:00 1 /x\n", exe: "/x", wantErr: true},
		{name: "bad permissions", maps: "00400000-04623000 rx 00000000 fe:00 1 /x\n", exe: "/x", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExecutableRegions([]byte(tc.maps), tc.exe)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("regions = %x, want %x", got, tc.want)
			}
		})
	}
}

func FuzzExecutableRegions(f *testing.F) {
	f.Add([]byte("00400000-04623000 r-xp 00000000 fe:00 10330328   /bin/kube\n"), "/bin/kube")
	f.Add([]byte("3dbc79400000-3dbc7a400000 rw-p 00000000 00:00 0 \n"), "")
	f.Fuzz(func(t *testing.T, maps []byte, exe string) {
		regions, err := ExecutableRegions(maps, exe)
		if err != nil {
			return
		}
		for _, r := range regions {
			if r.End <= r.Start {
				t.Errorf("region %x is empty or reversed", r)
			}
		}
	})
}

// childEnv makes the test binary a child that sits idle until its stdin closes, answering
// "forget" lines by calling Forget.
const childEnv = "PAGEOUT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
	}
	os.Exit(m.Run())
}

// child is a copy of this test binary (so no other process maps its pages) running runChild.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	size  int
}

func startChild(t *testing.T) *child {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "child")
	if err := writeSynced(copyPath, data); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(copyPath), size: len(data)}
	c.cmd.Env = append(os.Environ(), childEnv+"=1")
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.stdin.Close(); _ = c.cmd.Wait() })
	c.out = bufio.NewReader(stdout)
	if line, err := c.out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	return c
}

// TestExecutablePagesOut checks that a process's resident pages of the executable drop once its
// executable is paged out.
func TestExecutablePagesOut(t *testing.T) {
	c := startChild(t)
	// Stopped, the child's runtime threads cannot fault code back in between the page-out
	// and the measurement (CI runs other test binaries beside this one).
	stop(t, c.cmd.Process.Pid)
	before := exeResident(t, c.cmd.Process.Pid)
	var advised uint64
	var after uint64
	// Pages faulted in last may still sit in another CPU's LRU batch, which the page-out
	// cannot isolate; a second pass finds them drained.
	for range 3 {
		var err error
		if advised, err = Executable(c.cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if after = exeResident(t, c.cmd.Process.Pid); after < before/2 {
			break
		}
	}
	t.Logf("advised %d KiB; resident pages of the executable %d KiB before, %d KiB after", advised>>10, before, after)
	if advised < uint64(c.size)/2 {
		t.Errorf("advised %d bytes, less than half the %d-byte executable", advised, c.size)
	}
	if after >= before/2 {
		t.Errorf("resident pages of the executable went from %d to %d KiB, want them at least halved", before, after)
	}
	if _, err := Executable(1 << 30); err == nil {
		t.Error("Executable of a process that does not exist succeeded")
	}
}

// TestForget checks that a process that forgets its executable's mappings holds far fewer of
// their pages, and keeps running.
func TestForget(t *testing.T) {
	c := startChild(t)
	before := exeResident(t, c.cmd.Process.Pid)
	if _, err := io.WriteString(c.stdin, "forget\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := c.out.ReadString('\n'); err != nil || line != "forgot <nil>\n" {
		t.Fatalf("child after Forget: %q, %v", line, err)
	}
	after := exeResident(t, c.cmd.Process.Pid)
	t.Logf("resident pages of the executable %d KiB before Forget, %d KiB after", before, after)
	// Less than Executable achieves: answering the test faults the runtime's code back in,
	// with the kernel's fault-around, at once.
	if after > before*3/4 {
		t.Errorf("resident pages of the executable went from %d to %d KiB, want at least a quarter dropped", before, after)
	}
}

// stop stops pid with SIGSTOP, waits until it is stopped, and has the test continue it.
func stop(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the parenthesised command name, which may contain spaces.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") T") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop: %s", pid, stat)
		}
	}
}

// exeResident is how much of pid's executable is resident in its memory map, in KiB: the
// sum of the Rss of its mappings in /proc/PID/smaps. (RssFile would count shared libraries
// too, which a -race test binary links.)
func exeResident(t *testing.T, pid int) uint64 {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	var kb uint64
	inExe := false
	for _, line := range strings.Split(string(smaps), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-"):
			// A mapping's header: the path, if any, runs from the sixth field on.
			inExe = len(fields) >= 6 && strings.Join(fields[5:], " ") == exe
		case inExe && len(fields) == 3 && fields[0] == "Rss:":
			n, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				t.Fatalf("smaps line %q: %v", line, err)
			}
			kb += n
		}
	}
	if kb == 0 {
		t.Fatalf("process %d: nothing of %s resident", pid, exe)
	}
	return kb
}

// writeSynced writes a file and flushes it: dirty page-cache pages cannot be paged out, and a
// binary on the node's system partition is never dirty.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runChild() {
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "forget" {
			_, err := Forget()
			fmt.Println("forgot", err)
		}
	}
	os.Exit(0)
}
