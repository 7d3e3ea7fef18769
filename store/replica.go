package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/migrations"
)

// Reads may go to a streaming replica of the database (Config.ReadOnly):
// the queries the API answers (packets, calls, statistics) are plain
// SELECTs and read there what they read on the primary, a little later.
// Writes, migrations and the leader's jobs stay on the primary.

// checkSchema reports whether the database holds every migration this
// hepvault knows: a replica gets the schema from its primary, which the
// primary's hepvault migrates.
func (db *DB) checkSchema(ctx context.Context) error {
	ms, err := loadMigrations(migrations.FS)
	if err != nil {
		return err
	}
	var have int
	err = db.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have)
	if err != nil {
		return fmt.Errorf("store: the read database has no hepvault schema (is it a replica of hepvault's database?): %w", interpretError("read schema version", err))
	}
	if want := ms[len(ms)-1].version; have < want {
		return fmt.Errorf("store: %w: the read database's schema is at version %d, this hepvault needs %d: the replica has not replayed the primary's migration yet",
			hepvault.ErrUnavailable, have, want)
	}
	return nil
}

// errLagUnknown: a replica that is not streaming and has replayed nothing
// since it started cannot say how far behind it is.
var errLagUnknown = errors.New("store: replica lag unknown: not streaming from its primary and nothing replayed since it started")

// ReplicaLag returns how far the database lags behind its primary: 0 for
// a database that is not a replica, or a replica that has replayed all the
// primary sent while it streams; else the age of the last transaction it
// replayed. An idle primary sends nothing, so a replica that has caught up
// counts as 0 behind however old its last transaction is.
func (db *DB) ReplicaLag(ctx context.Context) (time.Duration, error) {
	if err := db.errNotReady(); err != nil {
		return 0, err
	}
	var lag *float64
	err := db.pool.QueryRow(ctx, `SELECT CASE
		WHEN NOT pg_is_in_recovery() THEN 0
		WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
		     AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
		ELSE greatest(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8 END`).Scan(&lag)
	if err != nil {
		return 0, interpretError("replica lag", err)
	}
	if lag == nil {
		return 0, errLagUnknown
	}
	return time.Duration(math.Round(*lag * float64(time.Second))), nil
}
