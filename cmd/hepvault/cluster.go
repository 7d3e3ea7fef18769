package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// clusterConfig holds the serve flags of deployments beyond one process
// and one database: a read replica and an archive database.
type clusterConfig struct {
	// DBRead is a streaming replica the API reads from; MaxReplicaLag is
	// how far behind it may be before /readyz answers 503.
	DBRead        string
	MaxReplicaLag time.Duration
	// ArchiveDB is a second PostgreSQL the days older than ArchiveAfter
	// move to, queried through postgres_fdw (store/archive.go).
	ArchiveDB    string
	ArchiveAfter time.Duration
	envErr       error
}

func addClusterFlags(fs *flag.FlagSet, getenv env, cc *clusterConfig) {
	fs.StringVar(&cc.DBRead, "db-read", getenv("HEPVAULT_DB_READ"),
		"PostgreSQL DSN of a streaming replica of --db: queries, exports and the web page read there; writes stay on --db (env HEPVAULT_DB_READ)")
	fs.DurationVar(&cc.MaxReplicaLag, "max-replica-lag", 30*time.Second,
		"with --db-read: /readyz answers 503 while the replica lags more than this; 0: no bound")
	fs.StringVar(&cc.ArchiveDB, "archive-db", getenv("HEPVAULT_ARCHIVE_DB"),
		"PostgreSQL DSN of an archive database: days older than --archive-after move there and stay queryable (env HEPVAULT_ARCHIVE_DB)")
	if err := (horizonFlag{&cc.ArchiveAfter}).Set(envDefault(getenv, "HEPVAULT_ARCHIVE_AFTER", "0")); err != nil {
		cc.envErr = fmt.Errorf("HEPVAULT_ARCHIVE_AFTER: %w", err)
	}
	fs.Var(horizonFlag{&cc.ArchiveAfter}, "archive-after",
		"with --archive-db: move each day to the archive once all of it is older than this, in days or hours (30d) (env HEPVAULT_ARCHIVE_AFTER)")
}

// check says what is wrong with the cluster flags, given --retention.
func (cc clusterConfig) check(retention time.Duration) error {
	switch {
	case cc.envErr != nil:
		return usageError{cc.envErr}
	case cc.ArchiveDB != "" && cc.ArchiveAfter <= 0:
		return usagef("--archive-db needs --archive-after: how old a day must be to move, e.g. 30d")
	case cc.ArchiveDB == "" && cc.ArchiveAfter > 0:
		return usagef("--archive-after needs --archive-db: the database days move to")
	case cc.ArchiveDB != "" && !validDSN(cc.ArchiveDB):
		return usagef("--archive-db: not a PostgreSQL DSN (postgres://user@host:port/database or key=value pairs)")
	case cc.ArchiveDB != "" && retention > 0 && cc.ArchiveAfter >= retention:
		return usagef("--archive-after (%s) must be shorter than --retention (%s): days past the retention are dropped, not archived",
			horizonFlag{&cc.ArchiveAfter}, horizonFlag{&retention})
	}
	return nil
}

func validDSN(dsn string) bool {
	_, err := pgx.ParseConfig(dsn)
	return err == nil
}

// startArchiver puts the moving of old days under the leader.
func (s *server) startArchiver() error {
	if s.cfg.Cluster.ArchiveDB == "" {
		return nil
	}
	a, err := store.NewArchiver(s.db, store.ArchiveConfig{
		DSN: s.cfg.Cluster.ArchiveDB, After: s.cfg.Cluster.ArchiveAfter, Horizon: s.cfg.Retention.Horizon, Logger: s.log,
	})
	if err != nil {
		return usageError{fmt.Errorf("--archive-db: %w", err)}
	}
	s.archiver = a
	s.leader.Every("archive", time.Hour, func(ctx context.Context, now time.Time) error {
		_, err := a.MoveExpired(ctx, now)
		return err
	})
	return nil
}

// readStore answers the API's queries from the replica, and says whether
// the database written to answers.
type readStore struct {
	*store.DB // the replica
	primary   *store.DB
}

func (r readStore) Ping(ctx context.Context) error { return r.primary.Ping(ctx) }

// readStore is what the API reads: the replica with --db-read, else the
// database written to.
func (s *server) readStore() api.Store {
	if s.readDB == nil {
		return s.db
	}
	return readStore{DB: s.readDB, primary: s.db}
}

// openReadDatabase opens the replica of --db-read. As for --db, a replica
// unreachable at start is waited for in the background (pending): the
// queries answer 503 meanwhile; a malformed DSN or a database without
// hepvault's schema stop serve.
func (s *server) openReadDatabase(ctx context.Context) (pending bool, err error) {
	if s.cfg.Cluster.DBRead == "" {
		return false, nil
	}
	scfg := store.DefaultConfig()
	scfg.DSN, scfg.Logger, scfg.ReadOnly = s.cfg.Cluster.DBRead, s.log, true
	if s.readDB, err = store.Connect(scfg); err != nil {
		return false, fmt.Errorf("--db-read: %w", err)
	}
	err = s.readDB.Prepare(ctx, time.Now())
	switch {
	case err == nil:
		s.log.Info("queries read from the replica at --db-read", "max_replica_lag_s", s.cfg.Cluster.MaxReplicaLag.Seconds())
		return false, nil
	case errors.Is(err, hepvault.ErrUnavailable) && ctx.Err() == nil:
		s.log.Warn("read replica unreachable at start: queries answer 503 until it answers; retrying in the background", "err", err)
		return true, nil
	default:
		s.readDB.Close()
		s.readDB = nil
		return false, fmt.Errorf("read replica at --db-read: %w", err)
	}
}

// awaitReadDatabase retries the replica until it answers or ctx ends.
func (s *server) awaitReadDatabase(ctx context.Context) {
	wait := dbRetryFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := s.readDB.Prepare(ctx, time.Now()); err == nil {
			s.log.Info("read replica reached: queries read from it")
			return
		}
		wait = min(2*wait, dbRetryMax)
	}
}

// clusterFamilies are the series of the deployments beyond one process:
// who leads among the processes sharing the database.
func clusterFamilies(src metricSources) prometheus.Collector {
	var fs families
	if l := src.leader; l != nil {
		fs = append(fs,
			gaugeOf("hepvault_leader", "1 while this process leads: it runs the store-wide jobs (partitions ahead, retention, statistics fold) for every process sharing the database.", nil,
				func(sample func(float64, ...string)) {
					if l.Leading() {
						sample(1)
					} else {
						sample(0)
					}
				}),
			counterOf("hepvault_leader_terms_total", "Times this process became leader.", nil,
				func(sample func(float64, ...string)) { sample(float64(l.Stats().Terms)) }),
		)
	}
	if r := src.readDB; r != nil {
		fs = append(fs,
			gaugeOf("hepvault_replica_lag_seconds", "How far the replica the queries read (--db-read) lags behind the primary: 0 when it has replayed all the primary sent (absent while it does not answer).", nil,
				func(sample func(float64, ...string)) {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					if lag, err := r.ReplicaLag(ctx); err == nil {
						sample(lag.Seconds())
					}
				}),
		)
	}
	if a := src.archiver; a != nil {
		fs = append(fs,
			counterOf("hepvault_archive_moved_partitions_total", "Day partitions this process moved to the archive database (as leader).", nil,
				func(sample func(float64, ...string)) { sample(float64(a.Stats().Moved)) }),
			counterOf("hepvault_archive_dropped_partitions_total", "Archived day partitions this process dropped in the archive, past the retention.", nil,
				func(sample func(float64, ...string)) { sample(float64(a.Stats().Dropped)) }),
			gaugeOf("hepvault_archive_last_move_seconds", "How long the last move of a day to the archive took (copy, verification and swap).", nil,
				func(sample func(float64, ...string)) { sample(a.Stats().LastTook.Seconds()) }),
		)
	}
	return fs
}
