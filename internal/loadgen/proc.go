package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc/<pid>/stat; 100 on
// every Linux architecture Go runs on in practice.
const clockTicks = 100

// ProcCPU returns the user+system CPU seconds pid has used.
func ProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("loadgen: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("loadgen: /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadgen: /proc/%d/stat: bad CPU times", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

// ProcTreeCPU is ProcCPU summed over pid and its children (PostgreSQL's
// backends are children of the postmaster). Children that exited are not
// counted: measure with long-lived connections.
func ProcTreeCPU(pid int) (float64, error) {
	total, err := ProcCPU(pid)
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if parentOf(child) == pid {
			if c, err := ProcCPU(child); err == nil {
				total += c
			}
		}
	}
	return total, nil
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return -1
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// ProcPeakRSS returns the peak resident set size of pid in bytes (VmHWM).
func ProcPeakRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: peak RSS of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("loadgen: /proc/%d/status: VmHWM %q", pid, v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("loadgen: /proc/%d/status has no VmHWM", pid)
}

// ResetPeakRSS sets pid's VmHWM back to its current RSS (writing 5 to
// clear_refs, Linux 4.0+), so the next ProcPeakRSS is the peak of this run.
// It needs the right to write to the process's clear_refs (same user, or root).
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// UDPDrops returns the kernel's drop counter of the UDP sockets bound to
// port (from /proc/net/udp and udp6): datagrams that arrived while the
// socket's receive buffer was full. It sees sockets of this network namespace.
func UDPDrops(port int) (uint64, error) {
	var total uint64
	found := false
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 13 {
				continue
			}
			// local_address is HEXIP:HEXPORT; drops is the last field.
			_, p, ok := strings.Cut(f[1], ":")
			if !ok {
				continue
			}
			if lp, err := strconv.ParseUint(p, 16, 16); err != nil || int(lp) != port {
				continue
			}
			d, err := strconv.ParseUint(f[len(f)-1], 10, 64)
			if err != nil {
				continue
			}
			total += d
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("loadgen: no UDP socket bound to port %d", port)
	}
	return total, nil
}
