package netns

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RemoveLeftovers removes whatever a crashed or killed run left under network name, as
// DestroyByName does, but only when no process still uses it: none runs inside one of its
// namespaces (a hosted node) and none holds one of its tap devices open (a QEMU VM). A test that
// launches a cluster under a fixed name calls it first, so that a run killed at its timeout does
// not fail every later run with "name in use". It returns what it removed, nothing if the name
// was unused, and refuses, naming the processes, while the network is in use.
func RemoveLeftovers(name string) ([]string, error) {
	if err := validateName(name); err != nil {
		return nil, fmt.Errorf("remove leftovers: %w", err)
	}
	links, err := listLinks(name)
	if err != nil {
		return nil, fmt.Errorf("remove leftovers of network %s: %w", name, err)
	}
	namespaces, err := listNamespaces(name)
	if err != nil {
		return nil, fmt.Errorf("remove leftovers of network %s: %w", name, err)
	}
	if len(links) == 0 && len(namespaces) == 0 {
		return nil, nil
	}
	users, err := networkUsers(name, namespaces)
	if err != nil {
		return nil, fmt.Errorf("remove leftovers of network %s: %w", name, err)
	}
	if len(users) > 0 {
		return nil, &InUseError{Network: name, Users: users}
	}
	var removed []string
	for _, l := range links {
		removed = append(removed, "link "+l)
	}
	for _, ns := range namespaces {
		removed = append(removed, "namespace "+ns)
	}
	if err := DestroyByName(name); err != nil {
		return nil, err
	}
	return removed, nil
}

// InUseError is RemoveLeftovers' refusal of a network that processes still use.
type InUseError struct {
	Network string
	Users   []Process
}

// Process is a process that uses a network.
type Process struct {
	PID int
	// Command is its command name (/proc/PID/comm), such as "qemu-system-x86".
	Command string
}

func (p Process) String() string { return fmt.Sprintf("process %d (%s)", p.PID, p.Command) }

func (e *InUseError) Error() string {
	users := make([]string, len(e.Users))
	for i, u := range e.Users {
		users[i] = u.String()
	}
	return fmt.Sprintf("network %s is still in use by %s: stop them first", e.Network, strings.Join(users, ", "))
}

// networkUsers lists every process that runs in one of namespaces or holds a tap device of
// network name open.
func networkUsers(name string, namespaces []string) ([]Process, error) {
	inodes := map[uint64]bool{}
	for _, ns := range namespaces {
		var st unix.Stat_t
		// A namespace file that is not a mount point (a half-created namespace) holds no
		// namespace anybody could be in.
		if err := unix.Stat(filepath.Join(namespaceDir, ns), &st); err == nil && st.Ino != 0 {
			inodes[st.Ino] = true
		}
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var users []Process
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if uses(pid, name, inodes) {
			users = append(users, Process{PID: pid, Command: command(pid)})
		}
	}
	return users, nil
}

// uses says whether process pid has a thread in a namespace with one of inodes or holds a tap
// device of network name. Every thread counts: a Go program that entered a namespace on a
// locked thread may keep that thread, even its first one, in the namespace until it exits. A
// process that exits meanwhile uses nothing.
func uses(pid int, name string, inodes map[uint64]bool) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	if len(inodes) > 0 {
		tasks, _ := os.ReadDir(filepath.Join(dir, "task"))
		for _, task := range tasks {
			link, err := os.Readlink(filepath.Join(dir, "task", task.Name(), "ns", "net"))
			if err != nil {
				continue
			}
			if ino, ok := parseNamespaceLink(link, "net"); ok && inodes[ino] {
				return true
			}
		}
	}
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, "fd", fd.Name())); err != nil || target != "/dev/net/tun" {
			continue
		}
		info, err := os.ReadFile(filepath.Join(dir, "fdinfo", fd.Name()))
		if err != nil {
			continue
		}
		if iff, ok := tunInterface(string(info)); ok && isNodeName(name, iff) {
			return true
		}
	}
	return false
}

// parseNamespaceLink reads the inode from a /proc/PID/ns link's target, such as
// "net:[4026531840]", if it is a namespace of kind.
func parseNamespaceLink(link, kind string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, kind+":[")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return ino, true
}

// tunInterface reads the interface a tun file descriptor is attached to from its
// /proc/PID/fdinfo text, which has a line "iff:\tNAME" once it is attached.
func tunInterface(fdinfo string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(fdinfo))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "iff:"); ok {
			v = strings.TrimSpace(v)
			return v, v != ""
		}
	}
	return "", false
}

// command is process pid's command name, or "?" if it is gone.
func command(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
