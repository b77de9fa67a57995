package netns

import (
	"os/exec"
)

// Command returns a command that runs name with args inside node i's network namespace.
// If there is no node i, the command's Start fails with that error.
//
// It runs `ip netns exec NAMESPACE name args...`. Go cannot start a child in another network
// namespace by itself (SysProcAttr has no setns, and setns on a locked thread before fork
// is not something os/exec supports), while ip enters the namespace and then execs the program
// in place: the child is the program itself (its PID, its signals, its exit status), just in the
// right namespace. ip also gives the child a mount namespace of its own, with /sys showing the
// node's links; mounts the program makes stay there.
func (n *Network) Command(i int, name string, args ...string) *exec.Cmd {
	node, err := n.Node(i)
	if err != nil {
		cmd := exec.Command(name, args...)
		cmd.Err = err
		return cmd
	}
	return exec.Command("ip", append([]string{"netns", "exec", node.Namespace, name}, args...)...)
}
