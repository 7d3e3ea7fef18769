package livetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns a missing program
// into a failure instead of a skip.
const RequireEnv = "HEPVAULT_REQUIRE_LIVE"

// Programs the live tests run, with the Debian package that has each.
var programs = []struct{ name, pkg string }{
	{"kamailio", "kamailio"}, {"sipp", "sip-tester"}, {"dumpcap", "tshark"}, {"tshark", "tshark"},
}

// Require skips t, or fails it under HEPVAULT_REQUIRE_LIVE, unless every
// program the live tests need is installed.
func Require(t *testing.T) {
	t.Helper()
	var missing, pkgs []string
	for _, p := range programs {
		if _, err := lookPath(p.name); err != nil {
			missing, pkgs = append(missing, p.name), append(pkgs, p.pkg)
		}
	}
	var msg string
	switch {
	case len(missing) > 0:
		msg = "live test needs " + strings.Join(missing, ", ") + " (Debian: apt-get install " +
			strings.Join(uniq(pkgs), " ") + ", or run scripts/deps.sh)"
	case !canCapture():
		msg = "live test needs to capture on lo: run it as root, or give dumpcap cap_net_raw,cap_net_admin"
	default:
		return
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s; %s is set, so this is a failure", msg, RequireEnv)
	}
	t.Skip(msg + "; set " + RequireEnv + "=1 to make this a failure")
}

// lookPath finds a program in PATH or in the sbin folders, where Debian
// puts kamailio and which a non-root PATH may lack.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p, err2 := exec.LookPath(dir + "/" + name); err2 == nil {
			return p, nil
		}
	}
	return "", err
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := lookPath(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// canCapture reports whether dumpcap may open lo: root may; anyone else
// only when dumpcap has the capabilities (Debian asks at install).
func canCapture() bool {
	if os.Geteuid() == 0 {
		return true
	}
	path, err := lookPath("dumpcap")
	if err != nil {
		return false
	}
	return exec.Command(path, "-i", "lo", "-L").Run() == nil
}

// RequireProgram returns the path of the first of names installed, or
// skips t (fails it under HEPVAULT_REQUIRE_LIVE) saying which Debian
// package has it.
func RequireProgram(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := lookPath(name); err == nil {
			return p
		}
	}
	msg := "test needs " + strings.Join(names, " or ") + " (Debian: apt-get install " + pkg + ", or run scripts/deps.sh)"
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s; %s is set, so this is a failure", msg, RequireEnv)
	}
	t.Skip(msg + "; set " + RequireEnv + "=1 to make this a failure")
	return ""
}

// RequireKamailioModule skips t (fails it under HEPVAULT_REQUIRE_LIVE)
// unless Kamailio's module name is installed; Debian ships some modules
// in packages of their own (tls.so in kamailio-tls-modules).
func RequireKamailioModule(t *testing.T, name, pkg string) {
	t.Helper()
	for _, pattern := range []string{"/usr/lib/*/kamailio/modules/", "/usr/lib/kamailio/modules/", "/usr/local/lib*/kamailio/modules/"} {
		if m, _ := filepath.Glob(pattern + name + ".so"); len(m) > 0 {
			return
		}
	}
	msg := "test needs Kamailio's " + name + " module (Debian: apt-get install " + pkg + ", or run scripts/deps.sh)"
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s; %s is set, so this is a failure", msg, RequireEnv)
	}
	t.Skip(msg + "; set " + RequireEnv + "=1 to make this a failure")
}
