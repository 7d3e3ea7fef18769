package pgembed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const installHint = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server) or point $HEPVAULT_PG_BIN at its bin directory"

// FindBinDir returns the directory holding initdb and postgres:
// $HEPVAULT_PG_BIN when set (and then only it), else where initdb on PATH
// really lives (Debian links only a few tools into PATH), else the newest
// /usr/lib/postgresql/*/bin.
func FindBinDir(ctx context.Context) (string, error) {
	return findBinDir(ctx, "")
}

// findBinDir is FindBinDir preferring binaries of major version want, the
// one that created an existing cluster: with 15 and 16 installed, a 15
// cluster must keep running on 15.
func findBinDir(ctx context.Context, want string) (string, error) {
	if dir := os.Getenv("HEPVAULT_PG_BIN"); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("pgembed: $HEPVAULT_PG_BIN: %w", err)
		}
		return dir, nil
	}
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	candidates = append(candidates, debianBinDirs()...)
	var found []string
	for _, dir := range candidates {
		if checkBinDir(dir) == nil && !slices.Contains(found, dir) {
			found = append(found, dir)
		}
	}
	if len(found) == 0 {
		return "", fmt.Errorf("pgembed: %w in $HEPVAULT_PG_BIN, PATH or /usr/lib/postgresql/*/bin; %s", ErrNoBinaries, installHint)
	}
	if want != "" {
		for _, dir := range found {
			if v, err := binVersion(ctx, dir); err == nil && v == want {
				return dir, nil
			}
		}
	}
	return found[0], nil
}

// debianBinDirs lists /usr/lib/postgresql/<version>/bin, newest first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	num := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		switch na, nb := num(a), num(b); {
		case na > nb:
			return -1
		case na < nb:
			return 1
		}
		return 0
	})
	return dirs
}

// checkBinDir reports whether dir has executable initdb and postgres.
func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%w: no executable %s in %s; %s", ErrNoBinaries, name, dir, installHint)
		}
	}
	return nil
}

// binVersion returns the major version of the postgres binary in dir, as
// PG_VERSION spells it ("15"; "9.6" before 10). postgres --version works as
// root, so no user switch is needed.
func binVersion(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("pgembed: %s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	// "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
	_, rest, ok := strings.Cut(string(out), "(PostgreSQL) ")
	fields := strings.Fields(rest)
	if !ok || len(fields) == 0 {
		return "", fmt.Errorf("pgembed: unexpected postgres --version output %q", out)
	}
	return majorVersion(fields[0]), nil
}

// majorVersion maps "15.14" to "15", "16beta1" to "16" and "9.6.24" to "9.6".
func majorVersion(v string) string {
	parts := strings.SplitN(v, ".", 3)
	major := parts[0]
	if i := strings.IndexFunc(major, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		major = major[:i]
	}
	if n, err := strconv.Atoi(major); err == nil && n < 10 && len(parts) > 1 {
		return major + "." + parts[1]
	}
	return major
}
