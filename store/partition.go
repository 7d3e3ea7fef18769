package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitionLock serialises partition DDL between hepvault processes.
const partitionLock = 0x68657077

const day = 24 * time.Hour

// partitioner makes the daily partitions of packet_blocks (UTC days) and remembers
// which exist, so the write path asks the database only for a new day.
type partitioner struct {
	db    *DB
	mu    sync.Mutex
	known map[time.Time]bool
}

func newPartitioner(db *DB) *partitioner {
	return &partitioner{db: db, known: map[time.Time]bool{}}
}

func partitionName(d time.Time) string { return "packet_blocks_p" + d.Format("20060102") }

// EnsurePartitions makes the partitions from yesterday to PartitionsAhead days
// after now; cmd calls it at start and then periodically. It asks the
// catalog, not what this process remembers: another process sharing the
// database may have dropped one.
func (db *DB) EnsurePartitions(ctx context.Context, now time.Time) error {
	today := now.UTC().Truncate(day)
	for d := today.Add(-day); !d.After(today.Add(time.Duration(db.cfg.PartitionsAhead) * day)); d = d.Add(day) {
		db.parts.forget(d)
		if err := db.parts.ensure(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// ensureFor makes sure every capture day in days has its partition. Every
// day gets one, however far from today: there is no default partition to
// fall back on (migrations/0001_init.up.sql says why).
func (p *partitioner) ensureFor(ctx context.Context, days map[time.Time]struct{}) error {
	for d := range days {
		if err := p.ensure(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func (p *partitioner) ensure(ctx context.Context, d time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known[d] {
		return nil
	}
	if err := p.create(ctx, d); err != nil {
		return interpretError("create partition "+partitionName(d), err)
	}
	p.known[d] = true
	return nil
}

// forget makes the next write to day d check its partition again.
func (p *partitioner) forget(d time.Time) {
	p.mu.Lock()
	delete(p.known, d)
	p.mu.Unlock()
}

func (p *partitioner) create(ctx context.Context, d time.Time) error {
	name := partitionName(d)
	bounds := fmt.Sprintf("FROM ('%s') TO ('%s')", d.Format(time.RFC3339), d.Add(day).Format(time.RFC3339))
	return pgx.BeginFunc(ctx, p.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		// CREATE ... PARTITION OF locks packet_blocks against every other
		// use, so it waits for the longest reader (a day being sealed, an
		// auditor's query), and every writer's INSERT queues behind it. A
		// short wait, then an error the caller tries again, keeps writes
		// from stalling behind a reader; it also breaks the cycle of a
		// transaction whose own helpers read behind the CREATE (sealing).
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
			return err
		}
		var exists, attached, foreign bool
		err := tx.QueryRow(ctx, `SELECT c.oid IS NOT NULL, i.inhrelid IS NOT NULL, coalesce(k.relkind = 'f', false)
			FROM (SELECT to_regclass($1) AS oid) c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
			LEFT JOIN pg_class k ON k.oid = c.oid`, name).Scan(&exists, &attached, &foreign)
		if err != nil {
			return err
		}
		if attached {
			return nil
		}
		if exists {
			// Left by a drop that detached it and stopped before DROP
			// TABLE: retention meant it gone.
			if _, err := tx.Exec(ctx, dropTable(foreign)+name); err != nil {
				return err
			}
		}
		if _, err = tx.Exec(ctx, `CREATE TABLE `+name+` PARTITION OF packet_blocks FOR VALUES `+bounds); err != nil {
			return err
		}
		// migrations/0001_init.up.sql says why the index is made here.
		_, err = tx.Exec(ctx, `CREATE UNIQUE INDEX `+name+`_first ON `+name+` (first_at, first_id)`)
		return err
	})
}

// dayTable is a day's partition as the catalog has it.
type dayTable struct {
	day      time.Time
	name     string
	attached bool // a partition of packet_blocks (pending detach included)
	pending  bool // a DETACH CONCURRENTLY began and did not finish
	archived bool // a foreign table: the day moved to the archive (archive.go)
}

// dropTable is the statement that drops a day table of that kind.
func dropTable(foreign bool) string {
	if foreign {
		return `DROP FOREIGN TABLE `
	}
	return `DROP TABLE `
}

// dayTables lists the day tables, oldest first: the partitions of
// packet_blocks and any left detached by an interrupted drop.
func (db *DB) dayTables(ctx context.Context) ([]dayTable, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT c.relname, i.inhrelid IS NOT NULL, coalesce(i.inhdetachpending, false), c.relkind = 'f'
		FROM pg_class c
		LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'packet_blocks'::regclass
		WHERE c.relkind IN ('r', 'f') AND c.relname ~ '^packet_blocks_p[0-9]{8}$'
		  AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'packet_blocks'::regclass)
		ORDER BY c.relname`)
	if err != nil {
		return nil, interpretError("list partitions", err)
	}
	var out []dayTable
	for rows.Next() {
		var t dayTable
		if err := rows.Scan(&t.name, &t.attached, &t.pending, &t.archived); err != nil {
			return nil, interpretError("list partitions", err)
		}
		d, err := time.Parse("20060102", t.name[len("packet_blocks_p"):])
		if err != nil {
			continue // a table of that shape not made by hepvault
		}
		t.day = d
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError("list partitions", err)
	}
	return out, nil
}

// dropDay removes the partition of day t and every packet in it. DETACH
// PARTITION CONCURRENTLY takes no ACCESS EXCLUSIVE lock on packet_blocks,
// so the writer and queries go on; it cannot run in a transaction, and it
// waits for every transaction whose snapshot is older than its own to end,
// so no lock a writer may wait for is held across it: the advisory lock
// that serialises partition DDL is taken only for DROP TABLE, once the
// table is detached. A drop interrupted half-way is finished by the next.
func (db *DB) dropDay(ctx context.Context, t dayTable) error {
	db.parts.forget(t.day)
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return interpretError("drop partition "+t.name, err)
	}
	defer c.Release()
	var detach string
	switch {
	case t.pending:
		detach = `ALTER TABLE packet_blocks DETACH PARTITION ` + t.name + ` FINALIZE`
	case t.attached:
		detach = `ALTER TABLE packet_blocks DETACH PARTITION ` + t.name + ` CONCURRENTLY`
	}
	if detach != "" {
		if _, err := c.Exec(ctx, detach); err != nil {
			return interpretError("detach partition "+t.name, err)
		}
	}
	// Under the lock, drop the table only if it is still detached: a write
	// for that day may have made its partition again meanwhile (create).
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		var detached bool
		err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = c.oid)
			FROM (SELECT to_regclass($1) AS oid) c WHERE c.oid IS NOT NULL`, t.name).Scan(&detached)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !detached) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, dropTable(t.archived)+t.name); err != nil {
			return err
		}
		// A recording's metadata goes with the packets it was read from.
		if _, err = tx.Exec(ctx, `DELETE FROM recording_messages WHERE captured_at >= $1 AND captured_at < $2`,
			t.day, t.day.Add(day)); err != nil {
			return err
		}
		return forgetSealedDay(ctx, tx, t.day)
	})
	if err != nil {
		return interpretError("drop partition "+t.name, err)
	}
	db.parts.forget(t.day) // a write may have looked it up meanwhile
	return nil
}

// DropDay drops the partition of the UTC day that holds d, and every packet
// in it (dropDay says how), and reports whether there was one. It refuses
// today's and later days: the writer is filling them.
func (db *DB) DropDay(ctx context.Context, d, now time.Time) (bool, error) {
	d = dayOf(d)
	if !d.Before(dayOf(now)) {
		return false, fmt.Errorf("store: drop partition %s: today's and later days are being written; not dropped", partitionName(d))
	}
	tables, err := db.dayTables(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		if t.day.Equal(d) {
			return true, db.dropDay(ctx, t)
		}
	}
	return false, nil
}
