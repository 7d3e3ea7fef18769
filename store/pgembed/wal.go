package pgembed

import (
	"strconv"
	"strings"

	"github.com/hepvault/hepvault/internal/diskspace"
)

// WAL sizes in MB. PostgreSQL wants at least two 16 MB segments.
const (
	walFloorMB      = 32
	defaultMaxWALMB = 1024 // PostgreSQL's max_wal_size when not set
	defaultMinWALMB = 80
)

// boundWAL lowers max_wal_size (and min_wal_size with it) to an eighth of
// the filesystem that holds dataDir when it would take more: between
// checkpoints PostgreSQL keeps up to max_wal_size of WAL, which on a small
// disk is room the data needs (hepvault's disk guard counts the WAL, but
// can only drop days, not WAL). It returns the filesystem's size when it
// lowered them, else 0.
func boundWAL(settings map[string]string, dataDir string) int64 {
	u, err := diskspace.Of(dataDir)
	if err != nil || u.Total <= 0 {
		return 0
	}
	capMB := max(u.Total/8>>20, walFloorMB)
	maxMB, ok := sizeMB(settings["max_wal_size"], defaultMaxWALMB)
	if !ok || maxMB <= capMB {
		return 0
	}
	settings["max_wal_size"] = strconv.FormatInt(capMB, 10) + "MB"
	minMB, ok := sizeMB(settings["min_wal_size"], defaultMinWALMB)
	if ok && minMB > capMB/2 {
		settings["min_wal_size"] = strconv.FormatInt(max(capMB/2, walFloorMB), 10) + "MB"
	}
	return u.Total
}

// sizeMB reads a PostgreSQL size setting in MB, GB or kB (bare numbers are
// MB for the WAL sizes); empty gives def. ok is false for a form it does
// not know, which is then left alone.
func sizeMB(v string, def int64) (mb int64, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, true
	}
	mult, div := int64(1), int64(1)
	switch {
	case strings.HasSuffix(v, "GB"):
		v, mult = strings.TrimSuffix(v, "GB"), 1024
	case strings.HasSuffix(v, "MB"):
		v = strings.TrimSuffix(v, "MB")
	case strings.HasSuffix(v, "kB"):
		v, div = strings.TrimSuffix(v, "kB"), 1024
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n * mult / div, true
}
