package e2e

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill a started onramp when the test binary
// dies without running its cleanups (a panic, a -timeout), so that no server
// outlives its test.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
