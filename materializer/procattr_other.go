//go:build !linux

package materializer

import "syscall"

// jobProcAttr puts a job in its own process group. Outside Linux there is
// no parent-death signal: a job outlives a server killed with SIGKILL.
func jobProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
