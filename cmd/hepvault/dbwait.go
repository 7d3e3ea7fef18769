package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

// How the background loop retries a database that was away at start: soon
// at first, then every dbRetryMax; a log line at most every dbRetryLogEvery
// (or when the error changes kind), not one per attempt.
const (
	dbRetryFirst    = 250 * time.Millisecond
	dbRetryMax      = 5 * time.Second
	dbRetryLogEvery = time.Minute
)

// openDatabase opens the store. With --db, an unreachable database does not
// stop serve: HEP agents fire and forget, so a restart during an outage must
// still receive, into the spool; pending then says awaitDatabase must finish
// the job. A malformed DSN, a refused login, a missing database or a failed
// migration stay fatal: waiting would not fix them. The embedded PostgreSQL
// must start, as before.
func (s *server) openDatabase(ctx context.Context) (pending bool, err error) {
	if s.cfg.DB == "" {
		if s.db, s.pg, err = openStorage(ctx, "", s.cfg.DataDir, s.log); err != nil {
			return false, err
		}
		return false, s.db.EnsurePartitions(ctx, time.Now())
	}
	scfg := store.DefaultConfig()
	scfg.DSN, scfg.Logger = s.cfg.DB, s.log
	if s.db, err = store.Connect(scfg); err != nil {
		return false, fmt.Errorf("--db: %w", err)
	}
	err = s.db.Prepare(ctx, time.Now())
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, hepvault.ErrUnavailable) && ctx.Err() == nil:
		s.log.Warn("database unreachable at start: receiving anyway, batches go to the spool; retrying in the background", "err", err)
		return true, nil
	default:
		return false, fmt.Errorf("database at --db: %w (check the address, user, password and database name)", err)
	}
}

// awaitDatabase retries Prepare (ping, migrate, partitions) with backoff
// until it succeeds or ctx ends; then the writer and the replayer write to
// the database and the spool drains.
func (s *server) awaitDatabase(ctx context.Context) {
	start, wait := time.Now(), dbRetryFirst
	lastLog, lastUnavailable := start, true // openDatabase logged the first failure
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := s.db.Prepare(ctx, time.Now())
		if err == nil {
			s.log.Info("database reached: schema ready; writing to it, the spool drains",
				"attempts", attempt, "waited_s", time.Since(start).Seconds())
			return
		}
		if ctx.Err() != nil {
			return
		}
		unavailable := errors.Is(err, hepvault.ErrUnavailable)
		if time.Since(lastLog) >= dbRetryLogEvery || unavailable != lastUnavailable {
			if unavailable {
				s.log.Warn("database still unreachable; packets go to the spool", "attempts", attempt, "waited_s", time.Since(start).Seconds(), "err", err)
			} else {
				s.log.Error("database answers but cannot be used; fix it, hepvault keeps trying and spooling", "attempts", attempt, "err", err)
			}
			lastLog, lastUnavailable = time.Now(), unavailable
		}
		wait = min(2*wait, dbRetryMax)
	}
}
