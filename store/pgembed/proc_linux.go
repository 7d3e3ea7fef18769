package pgembed

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// serverProcAttr runs postgres as cred in its own process group (a Ctrl-C
// in the terminal must reach hepvault, which stops the server after the
// store has flushed) and asks the kernel to send SIGINT, PostgreSQL's fast
// shutdown, when we die. The kernel sends it when the forking thread
// exits, so the caller forks from a locked thread (see startProcess).
func serverProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGINT}
}

// isPostmasterOf reports whether the live process pid is a postgres serving
// pgdata (the postmaster's working directory is its data directory). When
// /proc cannot tell, it says yes: refusing to start beats two servers on
// one data directory.
func isPostmasterOf(pid int, pgdata string) bool {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return true
	}
	if c := strings.TrimSpace(string(comm)); c != "postgres" && c != "postmaster" {
		return false
	}
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil {
		return true
	}
	want, err := filepath.EvalSymlinks(pgdata)
	if err != nil {
		want = pgdata
	}
	return cwd == want
}
