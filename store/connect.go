package store

import (
	"context"
	"fmt"
	"time"

	"github.com/hepvault/hepvault"
)

// Connect builds the pool without waiting for the database: a collector
// restarted during a database outage must still start and spool. The
// returned DB is not ready: the writer treats it as unavailable (spools),
// queries and Ping answer ErrUnavailable, until Prepare succeeds. Only a
// malformed DSN is an error here.
func Connect(cfg Config) (*DB, error) {
	db, err := newDB(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	db.notReady.Store(true)
	return db, nil
}

// Prepare pings the database, applies the migrations and makes the
// partitions around now; once it succeeds the DB is ready. An error wraps
// ErrUnavailable when the database is away (try again later); any other
// error (authentication, missing database, a failed migration) needs a
// person.
func (db *DB) Prepare(ctx context.Context, now time.Time) error {
	err := db.prepare(ctx, now)
	if err != nil {
		db.prepareErr.Store(&err)
		return err
	}
	db.notReady.Store(false)
	return nil
}

func (db *DB) prepare(ctx context.Context, now time.Time) error {
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := db.pool.Ping(pingCtx)
	cancel()
	if err != nil {
		return interpretError("connect to "+db.pool.Config().ConnConfig.Host, err)
	}
	if db.cfg.ReadOnly {
		return db.checkSchema(ctx)
	}
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	return db.EnsurePartitions(ctx, now)
}

// Ready reports whether the schema is known to be in place: always for a DB
// from Open, after Prepare for one from Connect.
func (db *DB) Ready() bool { return !db.notReady.Load() }

// errNotReady is what the writer, queries and Ping get before Prepare
// succeeded: the schema may not exist yet, and an insert into a missing table
// would be taken for a refused batch and its packets dropped one by one.
func (db *DB) errNotReady() error {
	if db.Ready() {
		return nil
	}
	last := "none yet"
	if err := db.prepareErr.Load(); err != nil {
		last = (*err).Error()
	}
	return fmt.Errorf("store: %w: not reached since start, schema not checked yet (hepvault keeps trying; last attempt: %s)", hepvault.ErrUnavailable, last)
}
