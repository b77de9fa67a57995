package hosted

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nodeDir is where node i (1-based) keeps its state, log and process ID.
func (c *Cluster) nodeDir(i int) string { return filepath.Join(c.Dir, fmt.Sprintf("node%d", i)) }

// LogPath is node i's console log: everything its log tree wrote.
func (c *Cluster) LogPath(i int) string { return filepath.Join(c.nodeDir(i), "console.log") }

func (c *Cluster) pidPath(i int) string { return filepath.Join(c.nodeDir(i), "pid") }

func (c *Cluster) parametersPath(i int) string { return filepath.Join(c.nodeDir(i), "parameters.pb") }

// StartNode starts node i's process inside its network namespace, detached from the launcher
// (its own session), with its console appended to LogPath(i). A node that is already running is
// left alone.
func (c *Cluster) StartNode(i int) error {
	if c.NodeRunning(i) {
		return nil
	}
	dir := c.nodeDir(i)
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	logFile, err := os.OpenFile(c.LogPath(i), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("node %d: console log: %w", i, err)
	}
	defer logFile.Close()
	args := []string{
		"--state-dir", filepath.Join(dir, "state"),
		"--address", c.Addresses[i-1],
	}
	if _, err := os.Stat(c.parametersPath(i)); err == nil {
		args = append(args, "--parameters", c.parametersPath(i))
	}
	network, err := c.network()
	if err != nil {
		return err
	}
	cmd := network.Command(i, c.NodeBinary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = nodeEnvironment(c.KubeBinary)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node %d: start %s: %w", i, c.NodeBinary, err)
	}
	pid := cmd.Process.Pid
	// Reap the process if it ends while the launcher still runs; afterwards it is init's.
	go func() { _ = cmd.Wait() }() // the exit shows in the console log
	return os.WriteFile(c.pidPath(i), []byte(strconv.Itoa(pid)), 0o600)
}

// NodeRunning says whether node i's process is alive.
func (c *Cluster) NodeRunning(i int) bool {
	pid, err := c.nodePID(i)
	return err == nil && processAlive(pid)
}

// KillNode ends node i's process: with SIGKILL if hard (a crash), else SIGTERM (a clean stop),
// and waits until it is gone.
func (c *Cluster) KillNode(i int, hard bool) error {
	pid, err := c.nodePID(i)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	// The node runs under `ip netns exec`, which execs into it: the PID is the node's.
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("node %d: signal %d: %w", i, pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			if sig == syscall.SIGKILL {
				return fmt.Errorf("node %d: process %d still alive 30s after SIGKILL", i, pid)
			}
			sig = syscall.SIGKILL
			_ = syscall.Kill(pid, sig) // the loop checks whether it is gone
			deadline = time.Now().Add(30 * time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return os.Remove(c.pidPath(i))
}

func (c *Cluster) nodePID(i int) (int, error) {
	data, err := os.ReadFile(c.pidPath(i))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("node %d: %s does not hold a process ID", i, c.pidPath(i))
	}
	return pid, nil
}

// processAlive says whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may itself hold spaces.
	s := string(data)
	end := strings.LastIndexByte(s, ')')
	return end < 0 || end+2 >= len(s) || s[end+2] != 'Z'
}

// kubeBinaryEnv is read by node/kubernetes (kubernetes.KubeBinaryEnv) to find the kube binary.
const kubeBinaryEnv = "METROPOLIS_KUBE_BINARY"

// nodeEnvironment is the launcher's environment for a node process, with kubeBinaryEnv set to
// kube if given and removed otherwise: a launcher that itself runs with the variable set (as
// scripts/test does for test/k8s) must not give every cluster a control plane it did not ask for.
func nodeEnvironment(kube string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, kubeBinaryEnv+"=") {
			env = append(env, kv)
		}
	}
	if kube != "" {
		env = append(env, kubeBinaryEnv+"="+kube)
	}
	return env
}
