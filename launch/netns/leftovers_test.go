package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/eventually"
)

func TestParseNamespaceLink(t *testing.T) {
	for _, tc := range []struct {
		link string
		want uint64
		ok   bool
	}{
		{"net:[4026531840]", 4026531840, true},
		{"net:[1]", 1, true},
		{"mnt:[4026531840]", 0, false},
		{"net:[]", 0, false},
		{"net:[12", 0, false},
		{"net:[-1]", 0, false},
		{"net:[99999999999999999999999]", 0, false},
		{"", 0, false},
	} {
		got, ok := parseNamespaceLink(tc.link, "net")
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseNamespaceLink(%q) = %d, %v; want %d, %v", tc.link, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTunInterface(t *testing.T) {
	for _, tc := range []struct {
		fdinfo string
		want   string
		ok     bool
	}{
		{"pos:\t0\nflags:\t0104002\nmnt_id:\t25\nino:\t155\niff:\tmp-kwork-1\n", "mp-kwork-1", true},
		// A tun file descriptor not attached to an interface yet has no iff line.
		{"pos:\t0\nflags:\t0104002\nmnt_id:\t25\nino:\t155\n", "", false},
		{"iff:\t\n", "", false},
		{"", "", false},
	} {
		got, ok := tunInterface(tc.fdinfo)
		if got != tc.want || ok != tc.ok {
			t.Errorf("tunInterface(%q) = %q, %v; want %q, %v", tc.fdinfo, got, ok, tc.want, tc.ok)
		}
	}
}

// leftoverEnv names the network a re-run of this test binary creates and leaves behind, as a
// run killed at its timeout would (see TestRemoveLeftoversSparesNetworksInUse).
const leftoverEnv = "NETNS_TEST_LEAVE_NETWORK"

// TestMain creates a network and exits without destroying it when leftoverEnv is set: a
// separate process, because a process that created namespaces may keep a thread in one.
func TestMain(m *testing.M) {
	if spec := os.Getenv(leftoverEnv); spec != "" {
		name, subnet, _ := strings.Cut(spec, " ")
		if _, err := Create(context.Background(), Spec{Name: name, Subnet: netip.MustParsePrefix(subnet), Nodes: 2}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRemoveLeftoversSparesNetworksInUse leaves a network behind as a killed run would, with a
// process in one node's namespace and a tap device held open as QEMU holds it. RemoveLeftovers
// refuses while either is in use, naming it, and removes everything once neither is.
func TestRemoveLeftoversSparesNetworksInUse(t *testing.T) {
	requireRoot(t)
	spec := uniqueSpec(t, 2)
	leave := exec.Command(os.Args[0], "-test.run=^$")
	leave.Env = append(os.Environ(), leftoverEnv+"="+spec.Name+" "+spec.Subnet.String())
	if out, err := leave.CombinedOutput(); err != nil {
		t.Fatalf("leave a network behind in another process: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = DestroyByName(spec.Name) })
	n, err := Attach(spec)
	if err != nil {
		t.Fatal(err)
	}

	sleeper := n.Command(2, "sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatalf("start a process in node 2: %v", err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	// Start returns once `ip netns exec` runs, before it entered the namespace; a
	// RemoveLeftovers before that would find the network unused and remove it.
	var ns unix.Stat_t
	if err := unix.Stat(namespaceDir+"/"+n.Nodes()[1].Namespace, &ns); err != nil {
		t.Fatal(err)
	}
	eventually.Pass(t, patience, "the process is in node 2's namespace", func(context.Context) error {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", sleeper.Process.Pid))
		if ino, _ := parseNamespaceLink(link, "net"); err != nil || ino != ns.Ino {
			return fmt.Errorf("its namespace is %q (%v), want inode %d", link, err, ns.Ino)
		}
		return nil
	})

	tap := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: linkName(spec.Name, 3)},
		Mode:      netlink.TUNTAP_MODE_TAP,
		Flags:     netlink.TUNTAP_NO_PI,
		// One queue: LinkAdd hands its file descriptor back open, as QEMU holds its tap.
		Queues: 1,
	}
	if err := netlink.LinkAdd(tap); err != nil {
		t.Fatalf("create tap: %v", err)
	}
	closeTap := func() {
		for _, f := range tap.Fds {
			f.Close()
		}
		tap.Fds = nil
	}
	t.Cleanup(closeTap)
	self := "process " + strconv.Itoa(os.Getpid()) + " "

	_, err = RemoveLeftovers(spec.Name)
	if err == nil || !strings.Contains(err.Error(), "still in use") || !strings.Contains(err.Error(), self) {
		t.Fatalf("RemoveLeftovers with a tap held open: %v, want an error naming process %d", err, os.Getpid())
	}
	closeTap()
	// Only the process in node 2's namespace is left.
	_, err = RemoveLeftovers(spec.Name)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Network != spec.Name || len(inUse.Users) != 1 || inUse.Users[0].PID != sleeper.Process.Pid {
		t.Errorf("RemoveLeftovers: %#v, want an InUseError of network %s naming process %d alone", err, spec.Name, sleeper.Process.Pid)
	}
	if strings.Contains(err.Error(), self) {
		t.Errorf("RemoveLeftovers names this process after it closed the tap: %v", err)
	}
	assertPresent(t, n.Nodes()[0].HostLink)

	if err := sleeper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = sleeper.Wait()
	removed, err := RemoveLeftovers(spec.Name)
	if err != nil {
		t.Fatalf("RemoveLeftovers after the process ended: %v", err)
	}
	// The bridge, two veth host links, the tap, and two namespaces.
	if len(removed) != 6 {
		t.Errorf("removed %q, want the bridge, 3 node links and 2 namespaces", removed)
	}
	assertGone(t, spec.Name)

	if removed, err := RemoveLeftovers(spec.Name); err != nil || len(removed) != 0 {
		t.Errorf("RemoveLeftovers of an unused name: %q, %v; want nothing and no error", removed, err)
	}
}

func assertPresent(t *testing.T, link string) {
	t.Helper()
	if _, err := netlink.LinkByName(link); err != nil {
		t.Errorf("link %s of a network in use was removed: %v", link, err)
	}
}
