package materializer

import "syscall"

// jobProcAttr puts a job in its own process group and asks the kernel to
// SIGKILL it when the server dies (Pdeathsig), so that a kill -9 of the
// server does not leave the job writing outputs that the recovered retry
// writes too. Only the job's own process gets that signal: descendants it
// started (a shell's children) are reparented and run on unless the job
// forwards it; the executor kills the whole group only while the server
// lives. Pdeathsig follows the OS thread that started the child: the Go
// runtime ends a thread only when a goroutine locked to it exits, which
// the executor never does.
func jobProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
