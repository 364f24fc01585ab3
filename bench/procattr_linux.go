package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the server if the load generator dies,
// so that an interrupted run leaves no server behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
