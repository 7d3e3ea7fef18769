package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
// after now; cmd calls it at start and then periodically.
func (db *DB) EnsurePartitions(ctx context.Context, now time.Time) error {
	today := now.UTC().Truncate(day)
	for d := today.Add(-day); !d.After(today.Add(time.Duration(db.cfg.PartitionsAhead) * day)); d = d.Add(day) {
		if err := db.parts.ensure(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// ensureFor makes sure every capture day in ts that lies in the window the
// config allows has its partition; the rest go to the default partition.
func (p *partitioner) ensureFor(ctx context.Context, now time.Time, days map[time.Time]struct{}) error {
	today := now.UTC().Truncate(day)
	lo := today.Add(-time.Duration(p.db.cfg.PartitionsBehind) * day)
	hi := today.Add(time.Duration(p.db.cfg.PartitionsAhead) * day)
	for d := range days {
		if d.Before(lo) || d.After(hi) {
			continue
		}
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

func (p *partitioner) create(ctx context.Context, d time.Time) error {
	name := partitionName(d)
	bounds := fmt.Sprintf("FROM ('%s') TO ('%s')", d.Format(time.RFC3339), d.Add(day).Format(time.RFC3339))
	return pgx.BeginFunc(ctx, p.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		_, err := tx.Exec(ctx, `SAVEPOINT create_partition`)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `CREATE TABLE `+name+` PARTITION OF packet_blocks FOR VALUES `+bounds)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23514" {
			// The default partition already holds rows of that day (they
			// arrived before the day came into the window): move them.
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT create_partition`); err != nil {
				return err
			}
			return moveFromDefault(ctx, tx, name, bounds, d)
		}
		return err
	})
}

func moveFromDefault(ctx context.Context, tx pgx.Tx, name, bounds string, d time.Time) error {
	stmts := []string{
		`ALTER TABLE packet_blocks DETACH PARTITION packet_blocks_default`,
		`CREATE TABLE ` + name + ` PARTITION OF packet_blocks FOR VALUES ` + bounds,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	where := ` WHERE first_at >= $1 AND first_at < $2`
	if _, err := tx.Exec(ctx, `INSERT INTO `+name+` SELECT * FROM packet_blocks_default`+where, d, d.Add(day)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM packet_blocks_default`+where, d, d.Add(day)); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `ALTER TABLE packet_blocks ATTACH PARTITION packet_blocks_default DEFAULT`)
	return err
}
