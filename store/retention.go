package store

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hepvault/hepvault/internal/diskspace"
)

// DropReason says why a day was dropped.
type DropReason uint8

// Reasons a day is dropped; each has a counter.
const (
	DropRetention DropReason = iota // the whole day is past the horizon
	DropDisk                        // the disk guard needed the space
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"retention", "disk"}

func (r DropReason) String() string { return dropReasonNames[r] }

// DropReasons lists every reason, for metrics.
func DropReasons() []DropReason { return []DropReason{DropRetention, DropDisk} }

// RetentionConfig says how long packets are kept and how much disk stays free.
type RetentionConfig struct {
	// Horizon: a day is dropped once all of it is older than this, and a
	// packet captured longer ago than this is not stored. 0 keeps everything.
	Horizon time.Duration
	// The disk guard keeps MinFreeBytes, or MinFreeFraction of the space,
	// free; both 0 turn it off.
	MinFreeBytes    int64
	MinFreeFraction float64
	// DataDir is a folder on the filesystem that holds PostgreSQL's data
	// (the embedded cluster's): its free space is what the guard keeps.
	DataDir string
	// MaxDBSize, for a database hepvault does not run (no DataDir), is the
	// space hepvault may take: the database, its WAL when readable, and
	// SpoolBytes count against it.
	MaxDBSize  int64
	SpoolBytes func() int64
	// SweepEvery is how often days past the horizon are dropped; CheckEvery
	// how often the guard measures: at 80,000 packets/s hepvault writes
	// ~15 MB/s, so every few seconds.
	SweepEvery time.Duration
	CheckEvery time.Duration
}

// DefaultRetentionConfig keeps everything, with the guard off.
func DefaultRetentionConfig() RetentionConfig {
	return RetentionConfig{SweepEvery: time.Hour, CheckEvery: 2 * time.Second}
}

// GuardOn reports whether cfg asks for a disk guard that can measure.
func (cfg RetentionConfig) GuardOn() bool {
	return (cfg.MinFreeBytes > 0 || cfg.MinFreeFraction > 0) && (cfg.DataDir != "" || cfg.MaxDBSize > 0)
}

// RetentionStats is what Retention did and what the guard saw last.
type RetentionStats struct {
	DroppedDays [numDropReasons]uint64 // by reason
	Horizon     time.Duration
	Guard       bool  // the disk guard measures
	FreeBytes   int64 // at the last check
	NeedBytes   int64 // what the guard keeps free
	// Paused: space is short and no day but today's is left to drop, or
	// under a quarter of the minimum while a drop is under way, so new
	// packets are dropped (the writer counts them as disk_full).
	Paused bool
	// Detail says in a sentence what the guard did last; empty when it
	// never had to act.
	Detail string
	Err    string // the last check's error, if any
}

// Retention drops whole days: those past the horizon, hourly, and the
// oldest ones when the disk runs short (the guard). It never deletes rows:
// a day goes with its partition (dropDay), at a cost that does not grow with
// the day's size. It never drops today's partition or a later one.
type Retention struct {
	db  *DB
	cfg RetentionConfig
	log *slog.Logger

	dropped   [numDropReasons]atomic.Uint64
	diskFloor atomic.Int64 // unix nanos: the end of the newest day the guard dropped
	paused    atomic.Bool  // short of space with no day left to drop
	// emergency: free space under a quarter of the minimum while Run's
	// loop is held up (DETACH ... CONCURRENTLY waits for older
	// transactions, a long query among them), seen by watch; writing stops
	// until the space is back above or the loop is free to drop days.
	emergency atomic.Bool
	busySince atomic.Int64 // unix nanos: Run's loop began its work; 0 when idle

	mu     sync.Mutex // guards the fields below
	free   int64
	need   int64
	detail string
	err    string
	// walUnreadable: the role may not list the WAL (pg_ls_waldir); said once.
	walUnreadable bool
}

// NewRetention returns the retention of db; Run applies it.
func NewRetention(db *DB, cfg RetentionConfig) *Retention {
	def := DefaultRetentionConfig()
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = def.SweepEvery
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = def.CheckEvery
	}
	return &Retention{db: db, cfg: cfg, log: db.log}
}

// Stats returns the counters and the guard's state.
func (r *Retention) Stats() RetentionStats {
	st := RetentionStats{Horizon: r.cfg.Horizon, Guard: r.cfg.GuardOn(), Paused: r.Paused()}
	for i := range st.DroppedDays {
		st.DroppedDays[i] = r.dropped[i].Load()
	}
	r.mu.Lock()
	st.FreeBytes, st.NeedBytes, st.Detail, st.Err = r.free, r.need, r.detail, r.err
	r.mu.Unlock()
	return st
}

// Cutoff is the earliest capture time kept at now: packets captured before
// it are past the horizon. Zero when everything is kept.
func (r *Retention) Cutoff(now time.Time) time.Time {
	if r == nil || r.cfg.Horizon <= 0 {
		return time.Time{}
	}
	return now.Add(-r.cfg.Horizon)
}

// diskCutoff is the end of the newest day the guard dropped: a packet of
// such a day arriving late would bring the partition back.
func (r *Retention) diskCutoff() time.Time {
	if n := r.diskFloor.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Paused reports whether the guard stopped the writing of new packets.
func (r *Retention) Paused() bool { return r != nil && (r.paused.Load() || r.emergency.Load()) }

// Run drops the days past the horizon at once and then every SweepEvery,
// and runs the disk guard every CheckEvery, until ctx ends. While the
// database is not ready it waits.
func (r *Retention) Run(ctx context.Context) {
	if r.cfg.Horizon > 0 {
		r.log.Info("retention: days entirely older than the horizon are dropped at start and then hourly; older packets are refused",
			"retention", formatHorizon(r.cfg.Horizon))
	} else {
		r.log.Info("retention: keeping every packet (no --retention); only the disk guard drops days")
	}
	if r.cfg.GuardOn() {
		r.log.Info("disk guard: oldest days are dropped to keep space free; with only today left, new packets are dropped",
			"min_free_bytes", r.cfg.MinFreeBytes, "min_free_fraction", r.cfg.MinFreeFraction,
			"data_dir", r.cfg.DataDir, "max_db_size", r.cfg.MaxDBSize, "check_every_s", r.cfg.CheckEvery.Seconds())
	} else {
		r.log.Warn("disk guard off: nothing keeps PostgreSQL's disk from filling (give --min-free-disk, and --max-db-size with --db)")
	}
	if r.cfg.GuardOn() {
		defer goUntilStopped(ctx, r.watch)()
	}
	check := time.NewTicker(r.cfg.CheckEvery)
	defer check.Stop()
	var lastSweep time.Time
	for {
		if r.db.Ready() {
			now := time.Now()
			r.busySince.Store(now.UnixNano())
			if r.cfg.Horizon > 0 && now.Sub(lastSweep) >= r.cfg.SweepEvery {
				lastSweep = now
				if _, err := r.DropExpired(ctx, now); err != nil && ctx.Err() == nil {
					r.log.Warn("retention: dropping days past the horizon failed; trying again in a minute", "err", err)
					lastSweep = now.Add(time.Minute - r.cfg.SweepEvery)
				}
			}
			if r.cfg.GuardOn() {
				if err := r.CheckDisk(ctx, now); err != nil && ctx.Err() == nil {
					r.setErr(err)
				}
			}
			r.busySince.Store(0)
		}
		select {
		case <-ctx.Done():
			return
		case <-check.C:
		}
	}
}

// DropExpired drops every day entirely older than the horizon at now
// (never today's) and returns how many it dropped.
func (r *Retention) DropExpired(ctx context.Context, now time.Time) (int, error) {
	cutoff := r.Cutoff(now)
	if cutoff.IsZero() {
		return 0, nil
	}
	tables, err := r.db.dayTables(ctx)
	if err != nil {
		return 0, err
	}
	held, err := r.db.heldDays(ctx)
	if err != nil {
		return 0, err
	}
	today := dayOf(now)
	n := 0
	for _, t := range tables {
		if t.day.Add(day).After(cutoff) || !t.day.Before(today) {
			break // oldest first: the rest are newer
		}
		if ids := held[t.day]; len(ids) > 0 {
			r.log.Info("retention: keeping a day past the horizon under legal hold", "day", t.day.Format(time.DateOnly), "holds", ids)
			continue
		}
		start := time.Now()
		if err := r.db.dropDay(ctx, t); err != nil {
			return n, err
		}
		n++
		r.dropped[DropRetention].Add(1)
		r.log.Info("retention: dropped a day past the horizon", "day", t.day.Format(time.DateOnly),
			"retention", formatHorizon(r.cfg.Horizon), "took_s", time.Since(start).Seconds())
	}
	if n > 0 {
		r.checkpoint(ctx)
	}
	return n, nil
}

// CheckDisk measures the free space and, while it is short, drops the
// oldest day (never today's or a later one) and measures again. With no
// such day left it pauses the writing of new packets, and resumes it once
// the space is back.
func (r *Retention) CheckDisk(ctx context.Context, now time.Time) error {
	today := dayOf(now)
	for {
		free, need, err := r.space(ctx)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.free, r.need, r.err = free, need, ""
		r.mu.Unlock()
		if free >= need {
			if r.paused.CompareAndSwap(true, false) {
				r.setDetail(fmt.Sprintf("space back (%s free, %s kept free): writing new packets again", mib(free), mib(need)))
				r.log.Info("disk guard: space back; writing new packets again", "free_bytes", free, "min_free_bytes", need)
			}
			return nil
		}
		tables, err := r.db.dayTables(ctx)
		if err != nil {
			return err
		}
		// A day moved to the archive takes no space here.
		tables = slices.DeleteFunc(tables, func(t dayTable) bool { return t.archived })
		held, err := r.db.heldDays(ctx)
		if err != nil {
			return err
		}
		// The oldest day not under a hold goes first; a held day only when
		// no other is left (holds.go says why).
		pick := -1
		for i, t := range tables {
			if !t.day.Before(today) {
				break
			}
			if len(held[t.day]) == 0 {
				pick = i
				break
			}
			if pick < 0 {
				pick = i
			}
		}
		if pick < 0 {
			if !r.paused.Swap(true) {
				r.setDetail(fmt.Sprintf("%s free, %s to keep free, and only today's partition is left: new packets are dropped until space returns",
					mib(free), mib(need)))
				r.log.Error("disk guard: space short and only today's partition left; new packets are dropped (counted as disk_full) until space returns",
					"free_bytes", free, "min_free_bytes", need)
			}
			return nil
		}
		t := tables[pick]
		if ids := held[t.day]; len(ids) > 0 {
			r.log.Error("disk guard: space short and only days under legal hold are left besides today; dropping the oldest held day, its held packets are lost",
				"day", t.day.Format(time.DateOnly), "holds", ids, "free_bytes", free, "min_free_bytes", need)
		}
		// Set first, so the writer refuses that day's stragglers before
		// the partition goes.
		if end := t.day.Add(day).UnixNano(); end > r.diskFloor.Load() {
			r.diskFloor.Store(end)
		}
		start := time.Now()
		if err := r.db.dropDay(ctx, t); err != nil {
			return err
		}
		r.dropped[DropDisk].Add(1)
		r.setDetail(fmt.Sprintf("dropped %s, the oldest day, for space: %s free, %s to keep free (%d days dropped for space so far)",
			t.day.Format(time.DateOnly), mib(free), mib(need), r.dropped[DropDisk].Load()))
		r.log.Warn("disk guard: space short; dropped the oldest day", "day", t.day.Format(time.DateOnly),
			"free_bytes", free, "min_free_bytes", need, "took_s", time.Since(start).Seconds())
		r.checkpoint(ctx)
	}
}

// heldUp is how long Run's loop may work before watch takes over the
// pausing: a drop takes milliseconds, but PostgreSQL's WAL grows by 16 MB
// segments, so free space dips briefly on its own.
const heldUp = time.Second

// watch measures the free space every CheckEvery, beside Run's loop, which
// a drop may hold up: while the loop has been busy for heldUp and free
// space is under a quarter of the minimum, it stops the writing of new
// packets.
func (r *Retention) watch(ctx context.Context) {
	t := time.NewTicker(r.cfg.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.db.Ready() {
			r.watchOnce(ctx)
		}
	}
}

func (r *Retention) watchOnce(ctx context.Context) {
	free, need, err := r.space(ctx)
	if err != nil {
		return // Run's loop reports it
	}
	since := r.busySince.Load()
	short := free < need/4 && since != 0 && time.Since(time.Unix(0, since)) >= heldUp
	if r.emergency.Swap(short) == short {
		return
	}
	if short {
		r.setDetail(fmt.Sprintf("%s free, under a quarter of the %s to keep free, while a drop is under way: new packets are dropped until space returns",
			mib(free), mib(need)))
		r.log.Error("disk guard: space under a quarter of the minimum while a drop is under way; new packets are dropped (counted as disk_full) until space returns",
			"free_bytes", free, "min_free_bytes", need)
	} else {
		r.log.Info("disk guard: space above a quarter of the minimum again, or days can be dropped; writing new packets", "free_bytes", free, "min_free_bytes", need)
	}
}

// space returns the free space and what the guard keeps free.
func (r *Retention) space(ctx context.Context) (free, need int64, err error) {
	if r.cfg.DataDir != "" {
		u, err := diskspace.Of(r.cfg.DataDir)
		if err != nil {
			return 0, 0, fmt.Errorf("disk guard: %w", err)
		}
		return u.Free, r.needOf(u.Total), nil
	}
	var used int64
	if err := r.db.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&used); err != nil {
		return 0, 0, interpretError("disk guard: database size", err)
	}
	used += r.walBytes(ctx)
	if r.cfg.SpoolBytes != nil {
		used += r.cfg.SpoolBytes()
	}
	return r.cfg.MaxDBSize - used, r.needOf(r.cfg.MaxDBSize), nil
}

func (r *Retention) needOf(total int64) int64 {
	if r.cfg.MinFreeBytes > 0 {
		return r.cfg.MinFreeBytes
	}
	return int64(r.cfg.MinFreeFraction * float64(total))
}

// walBytes is the size of PostgreSQL's WAL, or 0 when the role may not
// read it (pg_ls_waldir needs pg_monitor or a superuser).
func (r *Retention) walBytes(ctx context.Context) int64 {
	r.mu.Lock()
	skip := r.walUnreadable
	r.mu.Unlock()
	if skip {
		return 0
	}
	var n int64
	if err := r.db.pool.QueryRow(ctx, `SELECT coalesce(sum(size), 0)::bigint FROM pg_ls_waldir()`).Scan(&n); err != nil {
		if ctx.Err() == nil {
			r.mu.Lock()
			r.walUnreadable = true
			r.mu.Unlock()
			r.log.Warn("disk guard: cannot read the WAL's size (grant pg_monitor to hepvault's role); counting the database and the spool only", "err", err)
		}
		return 0
	}
	return n
}

// checkpointWait bounds the wait for a CHECKPOINT: the checkpointer goes on
// after the request is cancelled, and meanwhile ingest goes on too, which
// the guard must keep measuring.
const checkpointWait = time.Second

// checkpoint has PostgreSQL recycle the WAL the drops no longer need, so
// their space returns now rather than at the next timed checkpoint.
func (r *Retention) checkpoint(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, checkpointWait)
	defer cancel()
	if _, err := r.db.pool.Exec(cctx, `CHECKPOINT`); err != nil && cctx.Err() == nil {
		r.log.Warn("retention: CHECKPOINT after dropping days failed (needs a superuser or pg_checkpoint); WAL space returns at the next checkpoint", "err", err)
	}
}

func (r *Retention) setDetail(s string) {
	r.mu.Lock()
	r.detail = s
	r.mu.Unlock()
}

func (r *Retention) setErr(err error) {
	r.mu.Lock()
	first := r.err == ""
	r.err = err.Error()
	r.mu.Unlock()
	if first {
		r.log.Warn("disk guard: could not measure the free space; trying again", "err", err)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// formatHorizon writes a horizon in days when it is whole days.
func formatHorizon(h time.Duration) string {
	if h%day == 0 {
		return fmt.Sprintf("%dd", h/day)
	}
	return h.String()
}
