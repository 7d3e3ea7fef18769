package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// An archive is a second PostgreSQL that takes the days older than a bound
// (ArchiveConfig.After), so the main database keeps the recent, busy days
// on its own disk. A day moves whole, and stays where queries look for it:
//
//  1. The archive database holds hepvault's schema (migrated like the
//     main one) and gets the day's partition, made as the writer makes
//     one.
//  2. The day's blocks are copied in one stream (COPY ... TO STDOUT on the
//     main database into COPY ... FROM STDIN on the archive, in binary:
//     archive_copy.go), in one transaction there, with the archive's
//     partition emptied first, so an interrupted copy leaves nothing
//     behind.
//  3. Verified: the number of blocks and of packets, and a checksum of
//     every block, taken from the stream as it was sent and read back
//     from the archive after the commit, must agree.
//  4. Swapped, in one transaction here: the local partition is locked
//     against late writes and counted again (blocks are only ever
//     added, so the same count is the same blocks), detached and dropped,
//     and a foreign table (postgres_fdw) over the archive's partition is
//     attached for the day's range under the same name. packets,
//     packets_between and the API read it as before; a late packet for
//     that day is written through it into the archive.
//
// Retention is the whole store's: a day past --retention leaves the main
// database (its foreign partition dropped, retention.go) and then the
// archive (dropArchived). There is no separate archive retention: a day
// the main database no longer shows is a day nobody queries.

// archiveServer is the postgres_fdw server that names the archive.
const archiveServer = "hepvault_archive"

// ArchiveConfig says where older days go, and when.
type ArchiveConfig struct {
	// DSN is the archive database's; it needs CREATE there (hepvault's
	// schema is applied to it). The main database's role must be allowed
	// to create the postgres_fdw extension (a superuser, or an extension
	// created beforehand) and to make a server and a user mapping.
	DSN string
	// After: a day moves once all of it is older than this.
	After time.Duration
	// Horizon is the store's retention (RetentionConfig.Horizon): an
	// archived day past it is dropped in the archive too. 0 keeps them.
	Horizon time.Duration
	Logger  *slog.Logger
}

// ArchiveStats counts what the archiver did.
type ArchiveStats struct {
	Moved    uint64        // days moved to the archive
	Dropped  uint64        // archived days dropped past the horizon
	LastTook time.Duration // how long the last move took
	Err      string        // the last run's error, if any
}

// Archiver moves the days past ArchiveConfig.After to the archive
// database; the leader runs MoveExpired.
type Archiver struct {
	db   *DB
	arch *DB
	cfg  ArchiveConfig
	log  *slog.Logger

	ready    atomic.Bool // the archive's schema and the fdw server are in place
	moved    atomic.Uint64
	dropped  atomic.Uint64
	lastTook atomic.Int64
	mu       sync.Mutex
	err      string
}

// NewArchiver returns the archiver from db to the database at cfg.DSN;
// it connects when it first works. Only a malformed DSN is an error.
func NewArchiver(db *DB, cfg ArchiveConfig) (*Archiver, error) {
	if cfg.Logger == nil {
		cfg.Logger = db.log
	}
	acfg := DefaultConfig()
	acfg.DSN, acfg.Logger, acfg.MaxConns = cfg.DSN, cfg.Logger, 2
	arch, err := newDB(context.Background(), acfg)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &Archiver{db: db, arch: arch, cfg: cfg, log: cfg.Logger}, nil
}

// Close releases the archive's connections.
func (a *Archiver) Close() { a.arch.Close() }

// Stats returns the counters.
func (a *Archiver) Stats() ArchiveStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return ArchiveStats{Moved: a.moved.Load(), Dropped: a.dropped.Load(), LastTook: time.Duration(a.lastTook.Load()), Err: a.err}
}

// prepare migrates the archive and makes, or updates, the postgres_fdw
// server and user mapping that reach it from the main database.
func (a *Archiver) prepare(ctx context.Context) error {
	if a.ready.Load() {
		return nil
	}
	if _, err := a.arch.Migrate(ctx); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	cc := a.arch.pool.Config().ConnConfig
	opts := []string{"host", cc.Host, "port", strconv.Itoa(int(cc.Port)), "dbname", cc.Database}
	user := []string{"user", cc.User}
	if cc.Password != "" {
		user = append(user, "password", cc.Password)
	}
	err := pgx.BeginFunc(ctx, a.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS postgres_fdw`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = $1)`, archiveServer).Scan(&exists); err != nil {
			return err
		}
		sql := `CREATE SERVER ` + archiveServer + ` FOREIGN DATA WRAPPER postgres_fdw OPTIONS (` + fdwOptions(opts, "") + `)`
		if exists {
			// Set, not made again: dropping the server drops the foreign
			// partitions with it.
			sql = `ALTER SERVER ` + archiveServer + ` OPTIONS (` + fdwOptions(opts, "SET ") + `)`
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			return err
		}
		// For PUBLIC: psql, Grafana and a replica's readers see the
		// archived days too (postgres_fdw asks a role that is not a
		// superuser for the password).
		if _, err := tx.Exec(ctx, `DROP USER MAPPING IF EXISTS FOR PUBLIC SERVER `+archiveServer); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE USER MAPPING FOR PUBLIC SERVER `+archiveServer+` OPTIONS (`+fdwOptions(user, "")+`)`)
		return err
	})
	if err != nil {
		return interpretError("archive: reach the archive through postgres_fdw", err)
	}
	a.ready.Store(true)
	return nil
}

// fdwOptions writes name/value pairs as a server's OPTIONS list.
func fdwOptions(kv []string, verb string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(verb + kv[i] + " " + quoteLiteral(kv[i+1]))
	}
	return b.String()
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// MoveExpired moves every day entirely older than After at now (never
// today's) to the archive, oldest first, then drops the archived days past
// the horizon there; it returns how many days it moved.
func (a *Archiver) MoveExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := a.moveExpired(ctx, now)
	if err == nil {
		err = a.dropArchived(ctx, now)
	}
	a.mu.Lock()
	a.err = ""
	if err != nil {
		a.err = err.Error()
	}
	a.mu.Unlock()
	return n, err
}

func (a *Archiver) moveExpired(ctx context.Context, now time.Time) (int, error) {
	if err := a.db.errNotReady(); err != nil {
		return 0, err
	}
	if err := a.prepare(ctx); err != nil {
		return 0, err
	}
	tables, err := a.db.dayTables(ctx)
	if err != nil {
		return 0, err
	}
	cutoff, today := now.Add(-a.cfg.After), dayOf(now)
	n := 0
	for _, t := range tables {
		if t.day.Add(day).After(cutoff) || !t.day.Before(today) {
			break // oldest first: the rest are newer
		}
		if t.archived || !t.attached || t.pending {
			continue // moved already, or being dropped
		}
		if err := a.MoveDay(ctx, t.day); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// errDayChanged: a packet of the day arrived while it was copied; the
// move is tried again at the next run.
var errDayChanged = errors.New("store: archive: the day took new packets while it was copied; moving it again at the next run")

// dayChecksum is what a copy is verified by: blocks, packets, and the sum
// of a 64-bit hash of each block (blockChecksumSQL; order-free, so each
// side sums as it reads).
type dayChecksum struct {
	blocks, packets int64
	sum             string
}

const blockColumns = `first_at, first_id, last_at, count, format, terms, packets`

// MoveDay moves the day that holds d to the archive (see the top of this
// file) and reports what it moved. A day already moved is left as it is.
func (a *Archiver) MoveDay(ctx context.Context, d time.Time) error {
	d = dayOf(d)
	name := partitionName(d)
	start := time.Now()
	if err := a.prepare(ctx); err != nil {
		return err
	}
	var (
		localBytes int64
		kind       string
	)
	err := a.db.pool.QueryRow(ctx, `SELECT c.relkind::text, pg_total_relation_size(c.oid) FROM pg_class c
		JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'packet_blocks'::regclass AND NOT i.inhdetachpending
		WHERE c.oid = to_regclass($1)`, name).Scan(&kind, &localBytes)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("store: archive: %s: %w: no partition of that day here", name, hepvault.ErrNotFound)
	case err != nil:
		return interpretError("archive: look up "+name, err)
	case kind == "f":
		return nil // moved already
	}
	a.arch.parts.forget(d)
	if err := a.arch.parts.ensure(ctx, d); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	var schema string
	if err := a.arch.pool.QueryRow(ctx, `SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = $1::regclass`, name).Scan(&schema); err != nil {
		return interpretError("archive: schema of "+name, err)
	}

	sent, err := a.copyDay(ctx, name)
	if err != nil {
		return err
	}
	var got dayChecksum
	err = a.arch.pool.QueryRow(ctx, blockChecksumSQL+name+` b`).Scan(&got.blocks, &got.packets, &got.sum)
	if err != nil {
		return interpretError("archive: verify "+name, err)
	}
	if got != sent {
		return fmt.Errorf("store: archive: %s differs after the copy (here %d blocks, %d packets, checksum %s; there %d, %d, %s); left here",
			name, sent.blocks, sent.packets, sent.sum, got.blocks, got.packets, got.sum)
	}
	if _, err := a.arch.pool.Exec(ctx, `ANALYZE `+name); err != nil {
		return interpretError("archive: analyze "+name, err)
	}

	bounds := fmt.Sprintf("FROM ('%s') TO ('%s')", d.Format(time.RFC3339), d.Add(day).Format(time.RFC3339))
	err = pgx.BeginFunc(ctx, a.db.pool, func(tx pgx.Tx) error {
		// Waiting longer for the lock would hold up the writers queued
		// behind it.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		// Late writes to this day wait from here; other days' do not.
		if _, err := tx.Exec(ctx, `LOCK TABLE `+name+` IN SHARE MODE`); err != nil {
			return err
		}
		var blocks int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+name).Scan(&blocks); err != nil {
			return err
		}
		if blocks != sent.blocks {
			return errDayChanged
		}
		for _, sql := range []string{
			`ALTER TABLE packet_blocks DETACH PARTITION ` + name,
			`DROP TABLE ` + name,
			`CREATE FOREIGN TABLE ` + name + ` PARTITION OF packet_blocks FOR VALUES ` + bounds +
				` SERVER ` + archiveServer + ` OPTIONS (schema_name ` + quoteLiteral(schema) + `, table_name ` + quoteLiteral(name) + `)`,
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errDayChanged) {
		return err
	}
	if err != nil {
		return interpretError("archive: swap "+name+" for the archive's", err)
	}
	a.db.parts.forget(d)
	took := time.Since(start)
	a.moved.Add(1)
	a.lastTook.Store(int64(took))
	a.log.Info("archive: moved a day to the archive database", "day", d.Format(time.DateOnly), "blocks", sent.blocks,
		"packets", sent.packets, "local_bytes_freed", localBytes, "took_s", took.Seconds())
	return nil
}

// copyDay streams the blocks of table name into the archive's table of
// the same name, emptied first, in binary (archive_copy.go), and returns
// the checksum of what it sent.
func (a *Archiver) copyDay(ctx context.Context, name string) (dayChecksum, error) {
	var sent dayChecksum
	fromOID, err := a.db.packetTypeOID(ctx)
	if err != nil {
		return sent, interpretError("archive: copy "+name, err)
	}
	toOID, err := a.arch.packetTypeOID(ctx)
	if err != nil {
		return sent, interpretError("archive: copy "+name, err)
	}
	src, err := a.db.pool.Acquire(ctx)
	if err != nil {
		return sent, interpretError("archive: copy "+name, err)
	}
	defer src.Release()
	dst, err := a.arch.pool.Acquire(ctx)
	if err != nil {
		return sent, interpretError("archive: copy "+name, err)
	}
	defer dst.Release()
	err = pgx.BeginFunc(ctx, dst, func(dtx pgx.Tx) error {
		if _, err := dtx.Exec(ctx, `TRUNCATE `+name); err != nil {
			return err
		}
		fromR, fromW := io.Pipe()
		toR, toW := io.Pipe()
		readErr, rewriteErr := make(chan error, 1), make(chan error, 1)
		go func() {
			_, err := src.Conn().PgConn().CopyTo(ctx, fromW, `COPY (SELECT `+blockColumns+` FROM `+name+`) TO STDOUT (FORMAT binary)`)
			fromW.CloseWithError(err)
			readErr <- err
		}()
		go func() {
			var err error
			sent, err = copyBlocks(toW, fromR, fromOID, toOID)
			if err != nil {
				fromR.CloseWithError(errCopyAborted) // the reader stops too
			}
			toW.CloseWithError(err)
			rewriteErr <- err
		}()
		_, err := dtx.Conn().PgConn().CopyFrom(ctx, toR, `COPY `+name+` (`+blockColumns+`) FROM STDIN (FORMAT binary)`)
		toR.CloseWithError(errCopyAborted) // the others stop if this stopped early
		rerr, werr := <-readErr, <-rewriteErr
		switch {
		case rerr != nil && !errors.Is(rerr, errCopyAborted):
			return fmt.Errorf("read the day: %w", rerr)
		case werr != nil && !errors.Is(werr, errCopyAborted):
			return werr
		}
		return err
	})
	if err != nil {
		return sent, interpretError("archive: copy "+name, err)
	}
	return sent, nil
}

var errCopyAborted = errors.New("copy into the archive stopped")

// dropArchived drops, in the archive, the days past the horizon that the
// main database no longer holds (its retention drops them there first).
func (a *Archiver) dropArchived(ctx context.Context, now time.Time) error {
	if a.cfg.Horizon <= 0 {
		return nil
	}
	here, err := a.db.dayTables(ctx)
	if err != nil {
		return err
	}
	held := map[time.Time]bool{}
	for _, t := range here {
		held[t.day] = true
	}
	there, err := a.arch.dayTables(ctx)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	cutoff, today := now.Add(-a.cfg.Horizon), dayOf(now)
	for _, t := range there {
		if t.day.Add(day).After(cutoff) || !t.day.Before(today) {
			break
		}
		if held[t.day] {
			continue
		}
		if err := a.arch.dropDay(ctx, t); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		a.dropped.Add(1)
		a.log.Info("archive: dropped a day past the retention in the archive", "day", t.day.Format(time.DateOnly))
	}
	return nil
}
