package pgembed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// runAs is the user the PostgreSQL binaries run as. The zero value means the
// current user.
type runAs struct {
	name string
	uid  int
	gids []int // primary first
	drop bool  // we are root and must drop to this user
}

// pickUser returns the current user, or the "postgres" system user when we
// are root, since initdb and postgres refuse to run as root.
func pickUser() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{uid: os.Geteuid(), gids: []int{os.Getegid()}}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("pgembed: running as root, PostgreSQL must run as the \"postgres\" system user, but looking it up failed (%s): %w", installHint, err)
	}
	r := runAs{name: u.Username, drop: true}
	if r.uid, err = strconv.Atoi(u.Uid); err != nil {
		return runAs{}, fmt.Errorf("pgembed: user postgres: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return runAs{}, fmt.Errorf("pgembed: user postgres: gid %q: %w", u.Gid, err)
	}
	r.gids = []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && !slices.Contains(r.gids, g) {
				r.gids = append(r.gids, g)
			}
		}
	}
	return r, nil
}

// credential is what exec needs to switch user; nil runs as ourselves.
// Groups is empty on purpose: the child must not keep root's groups.
func (r runAs) credential() *syscall.Credential {
	if !r.drop {
		return nil
	}
	return &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gids[0]), Groups: []uint32{}}
}

// checkReachable fails with ErrUnreachable naming the first directory above
// dir (dir included) that r may not pass through. Without this, initdb and
// postgres fail later with a bare "permission denied".
func (r runAs) checkReachable(dir string) error {
	if !r.drop {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		if !r.canSearch(fi) {
			return fmt.Errorf("pgembed: %w: PostgreSQL runs as user %s (we are root) and cannot pass through %s (mode %04o); run `chmod o+x %s` or choose a data dir the postgres user can reach, e.g. under /var/lib or /tmp",
				ErrUnreachable, r.name, d, uint32(fi.Mode().Perm()), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (r runAs) canSearch(fi fs.FileInfo) bool {
	mode := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return mode&0o001 != 0
	}
	switch {
	case int(st.Uid) == r.uid:
		return mode&0o100 != 0
	case slices.Contains(r.gids, int(st.Gid)):
		return mode&0o010 != 0
	}
	return mode&0o001 != 0
}

// own makes r the owner of dir and everything in it, as postgres refuses a
// data directory it does not own. It only walks the tree when dir itself
// has the wrong owner, so a reused cluster costs one stat.
func (r runAs) own(dir string) error {
	if !r.drop {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == r.uid && int(st.Gid) == r.gids[0] {
		return nil
	}
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, r.uid, r.gids[0])
	})
	if err != nil {
		return fmt.Errorf("pgembed: %w: chown %s to %s: %w", ErrUnreachable, dir, r.name, err)
	}
	return nil
}

// childEnv is our environment without PG* variables: PGDATA, PGPORT or
// PGOPTIONS set for some other server must not steer ours.
func childEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool {
		return len(kv) >= 2 && kv[:2] == "PG"
	})
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
