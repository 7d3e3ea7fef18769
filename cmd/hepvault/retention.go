package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hepvault/hepvault/store"
)

// retentionConfig holds the serve flags that bound how much is kept: for
// how long, and how much disk stays free.
type retentionConfig struct {
	Horizon time.Duration // 0 keeps everything
	MinFree minFree
	// MaxDBSize is the space hepvault may take in a database it does not
	// run (--db); 0 turns the guard off there.
	MaxDBSize int64
	// CheckEvery is how often the guard measures (tests shorten it).
	CheckEvery time.Duration
	envErr     error
}

// defaultMinFreeDisk leaves PostgreSQL room for a checkpoint's WAL and
// hepvault room to react between two checks.
const defaultMinFreeDisk = "10%"

func addRetentionFlags(fs *flag.FlagSet, getenv env, rc *retentionConfig) {
	set := func(v flag.Value, name, def string) {
		if err := v.Set(envDefault(getenv, name, def)); err != nil && rc.envErr == nil {
			rc.envErr = fmt.Errorf("%s: %w", name, err)
		}
	}
	set(horizonFlag{&rc.Horizon}, "HEPVAULT_RETENTION", "0")
	set(&rc.MinFree, "HEPVAULT_MIN_FREE_DISK", defaultMinFreeDisk)
	set(bytesFlag{&rc.MaxDBSize}, "HEPVAULT_MAX_DB_SIZE", "0")
	fs.Var(horizonFlag{&rc.Horizon}, "retention",
		"keep packets this long, in days or hours (90d, 36h); whole days past it are dropped at start and hourly, older packets are refused; 0 keeps everything (env HEPVAULT_RETENTION)")
	fs.Var(&rc.MinFree, "min-free-disk",
		"keep this much of the disk that holds PostgreSQL's data free, as a share (10%) or a size (2G): the oldest days are dropped first; with only today left, new packets are dropped; 0 turns the guard off (env HEPVAULT_MIN_FREE_DISK)")
	fs.Var(bytesFlag{&rc.MaxDBSize}, "max-db-size",
		"with --db: the space hepvault may take there (database, WAL, spool), e.g. 50G; --min-free-disk applies to it; 0: no disk guard for --db (env HEPVAULT_MAX_DB_SIZE)")
}

// storeConfig turns the flags into the store's config for a server whose
// embedded PostgreSQL lives in dataDir ("" with --db).
func (rc retentionConfig) storeConfig(dataDir string, spoolBytes func() int64) store.RetentionConfig {
	cfg := store.DefaultRetentionConfig()
	cfg.Horizon = rc.Horizon
	cfg.MinFreeBytes, cfg.MinFreeFraction = rc.MinFree.Bytes, rc.MinFree.Fraction
	cfg.DataDir, cfg.SpoolBytes = dataDir, spoolBytes
	if dataDir == "" {
		cfg.MaxDBSize = rc.MaxDBSize
	}
	if rc.CheckEvery > 0 {
		cfg.CheckEvery = rc.CheckEvery
	}
	return cfg
}

// parseHorizon reads a retention: a whole number of years (2y, of 365
// days), days (90d) or hours (36h); 0 keeps everything.
func parseHorizon(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return 0, nil
	}
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "y"):
		unit = 365 * 24 * time.Hour
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "h"):
		unit = time.Hour
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s[:len(s)-1]), 10, 64)
	if unit == 0 || err != nil || n <= 0 || n > int64(100*365*24*time.Hour/unit) {
		return 0, usagef("bad retention %q: want years, days or hours, e.g. 2y, 90d or 36h (0 keeps everything)", s)
	}
	return time.Duration(n) * unit, nil
}

// horizonFlag is a flag.Value for a retention.
type horizonFlag struct{ d *time.Duration }

func (h horizonFlag) String() string {
	if h.d == nil || *h.d == 0 {
		return "0"
	}
	if *h.d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(*h.d/(24*time.Hour)), 10) + "d"
	}
	return strconv.FormatInt(int64(*h.d/time.Hour), 10) + "h"
}

func (h horizonFlag) Set(s string) error {
	d, err := parseHorizon(s)
	if err != nil {
		return err
	}
	*h.d = d
	return nil
}

// minFree is --min-free-disk: a share of the space or a size.
type minFree struct {
	Fraction float64
	Bytes    int64
}

func (m *minFree) String() string {
	switch {
	case m == nil:
		return ""
	case m.Bytes > 0:
		return strconv.FormatInt(m.Bytes, 10)
	}
	return strconv.FormatFloat(m.Fraction*100, 'f', -1, 64) + "%"
}

func (m *minFree) Set(s string) error {
	s = strings.TrimSpace(s)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || f < 0 || f >= 100 {
			return usagef("bad share %q: want a percentage from 0 to under 100, e.g. 10%%", s)
		}
		*m = minFree{Fraction: f / 100}
		return nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*m = minFree{Bytes: n}
	return nil
}

// guardState adapts the store's retention to what /readyz asks.
type guardState struct{ r *store.Retention }

func (g guardState) GuardState() (paused bool, detail string) {
	st := g.r.Stats()
	detail = st.Detail
	if st.Err != "" {
		// The log has the error; a database's text stays out of the API.
		detail = strings.TrimPrefix(detail+"; the last check of the free space failed (see the log)", "; ")
	}
	return st.Paused, detail
}
