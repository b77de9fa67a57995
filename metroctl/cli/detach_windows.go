package cli

import (
	"os/exec"
	"syscall"
)

// detach makes cmd outlive this process and its console: a new process group, no window.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | 0x08000000} // CREATE_NO_WINDOW
}
