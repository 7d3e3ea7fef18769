package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// StartReplica starts a streaming replica of primary in cfg.DataDir: the
// first time it copies the primary with pg_basebackup -R (which writes the
// standby.signal and primary_conninfo that make it follow), later times it
// starts the copy already there. The replica is read-only (hot standby) and
// serves the same database; it follows over the replication connection
// pgembed's clusters allow from 127.0.0.1. For tests and for trying a
// replica out: a replica in production is the operator's, made the same
// way.
func StartReplica(ctx context.Context, primary *Server, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("pgembed: Config.DataDir is empty")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: data dir: %w", err)
	}
	pgdata := filepath.Join(dataDir, "pgdata")
	if ok, _ := exists(filepath.Join(pgdata, "PG_VERSION")); ok {
		return Start(ctx, cfg)
	}
	who, err := pickUser()
	if err != nil {
		return nil, err
	}
	binDir := cfg.BinDir
	if binDir == "" {
		if binDir, err = findBinDir(ctx, ""); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("pgembed: data dir %s not writable: %w", dataDir, err)
	}
	if err := os.Mkdir(pgdata, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("pgembed: data dir %s not writable: %w", dataDir, err)
	}
	if err := who.checkReachable(dataDir); err != nil {
		return nil, err
	}
	if err := who.own(pgdata); err != nil {
		return nil, err
	}
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port()), "-U", Superuser, "-D", pgdata,
		"-R", "-X", "stream", "-c", "fast", "-w"}
	if cfg.Ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pg_basebackup"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: who.credential()}
	cmd.Env = childEnv()
	cmd.Dir = pgdata
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(pgdata) // half a copy is no replica
		return nil, fmt.Errorf("pgembed: pg_basebackup of 127.0.0.1:%d into %s failed: %w; its output ends:\n%s", primary.Port(), pgdata, err, tail(out, 2048))
	}
	return Start(ctx, cfg)
}
