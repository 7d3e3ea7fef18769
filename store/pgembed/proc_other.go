//go:build unix && !linux

package pgembed

import "syscall"

// serverProcAttr: see proc_linux.go; without Pdeathsig a server may
// outlive a killed hepvault, and the next Start reports ErrAlreadyRunning.
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}

// isPostmasterOf cannot inspect the process here, so it assumes the worst.
func isPostmasterOf(pid int, pgdata string) bool { return true }
