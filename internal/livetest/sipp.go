package livetest

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// SIPp runs sipp user agents against a proxy, with scenarios from Dir.
type SIPp struct {
	Dir   string // folder of the XML scenarios
	Proxy string // host:port every UAC sends to
}

// common are the arguments every sipp gets: loopback, one call, no
// keyboard, and a global timeout so a lost message fails instead of hanging.
func (s SIPp) common(t *testing.T, port int) (string, []string) {
	dir := t.TempDir()
	return dir, []string{"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-nostdin",
		"-timeout", "15s", "-timeout_error", "-trace_err", "-error_file", filepath.Join(dir, "errors.log")}
}

// scenario turns "name.xml" into -sf DIR/name.xml and a built-in name
// ("uac", "uas") into -sn name.
func (s SIPp) scenario(name string) []string {
	if filepath.Ext(name) == ".xml" {
		abs, _ := filepath.Abs(filepath.Join(s.Dir, name))
		return []string{"-sf", abs}
	}
	return []string{"-sn", name}
}

// UAC runs one call of scenario from a free port to the proxy and fails t
// unless sipp says the call succeeded. extra are more sipp arguments
// ("-s", "bob", "-key", "user", "bob").
func (s SIPp) UAC(t *testing.T, scenario string, extra ...string) {
	t.Helper()
	dir, args := s.common(t, FreePort(t))
	args = append(append(append(args, s.scenario(scenario)...), extra...), s.Proxy)
	p := start(t, dir, "sipp", args...)
	if err := p.wait(30 * time.Second); err != nil {
		t.Fatalf("sipp UAC %s %v failed: %v\n%s", scenario, extra, err, tail(p.out.String(), 3000))
	}
}

// UAS starts a sipp answering one call of scenario on port, in the
// background; it is stopped in t.Cleanup.
func (s SIPp) UAS(t *testing.T, scenario string, port int) {
	t.Helper()
	dir, args := s.common(t, port)
	p := start(t, dir, "sipp", append(args, s.scenario(scenario)...)...)
	deadline := time.Now().Add(10 * time.Second)
	for !udpBound(port) || p.exited() {
		if p.exited() {
			t.Fatalf("sipp UAS %s on port %d exited at start (%v):\n%s", scenario, port, p.err, tail(p.out.String(), 3000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipp UAS %s did not bind port %d", scenario, port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Run is a sipp UAC started in the background (StartUAC).
type Run struct {
	p        *proc
	scenario string
	extra    []string
}

// StartUAC starts one call of scenario from a free port to the proxy, as
// UAC does, without waiting for it: calls that overlap, as a recorded call
// and its recording session do, run side by side. Wait says how it ended.
func (s SIPp) StartUAC(t *testing.T, scenario string, extra ...string) *Run {
	t.Helper()
	dir, args := s.common(t, FreePort(t))
	args = append(append(append(args, s.scenario(scenario)...), extra...), s.Proxy)
	return &Run{p: start(t, dir, "sipp", args...), scenario: scenario, extra: extra}
}

// Wait waits for the call to end and fails t unless sipp says it succeeded.
func (r *Run) Wait(t *testing.T) {
	t.Helper()
	if err := r.p.wait(30 * time.Second); err != nil {
		t.Fatalf("sipp UAC %s %v failed: %v\n%s", r.scenario, r.extra, err, tail(r.p.out.String(), 3000))
	}
}
