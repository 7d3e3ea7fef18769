package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hepvault/hepvault/store/spool"
)

// defaultSpoolMaxBytes caps the spool unless told otherwise: at ~1 KB a
// packet spooled, about 4 million packets, 40 s of 100,000 packets a
// second (a database restart, a failover) or hours of a small farm's. The
// disk guard counts it against --min-free-disk.
const defaultSpoolMaxBytes = 4 << 30

// spoolDir is --spool-dir, or the spool folder in --data-dir.
func (cfg serveConfig) spoolDir() string {
	if cfg.SpoolDir != "" {
		return cfg.SpoolDir
	}
	if cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(cfg.DataDir, "spool")
}

// openSpool opens the spool the writer falls back on while the database is
// away; nil when it is turned off (--spool-max-bytes 0, or no folder).
func openSpool(cfg serveConfig, log *slog.Logger) (*spool.Spool, error) {
	dir := cfg.spoolDir()
	if cfg.SpoolMaxBytes <= 0 || dir == "" {
		log.Warn("no spool: while the database is away, packets wait in memory and are dropped when the queue is full")
		return nil, nil
	}
	scfg := spool.DefaultConfig()
	scfg.Dir, scfg.MaxBytes, scfg.Logger = dir, cfg.SpoolMaxBytes, log
	sp, err := spool.Open(scfg)
	if err != nil {
		return nil, fmt.Errorf("spool in %s (set --spool-dir to a writable folder): %w", dir, err)
	}
	return sp, nil
}

// parseBytes reads a size: bytes, or a number with K, M, G (or KiB, MiB,
// GiB: powers of 1024).
func parseBytes(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, usagef("bad size %q: want bytes, or a number with K, M or G (e.g. 512M)", s)
	}
	return n * mult, nil
}

// bytesFlag is a flag.Value for sizes.
type bytesFlag struct{ n *int64 }

func (b bytesFlag) String() string {
	if b.n == nil {
		return ""
	}
	return strconv.FormatInt(*b.n, 10)
}

func (b bytesFlag) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b.n = n
	return nil
}
