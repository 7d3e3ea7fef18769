package store

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// A day is read by several connections at once, each a slice of its blocks
// in storage order, all in one snapshot (pg_export_snapshot): PostgreSQL's
// binary output of a block's packet_v1[] costs more than decoding and
// hashing them in Go, and each connection's backend is a process of its
// own. The slices' trees are joined by splitTree.

// readers is how many connections read a day: one per core, at most 4,
// and one fewer than the pool holds (the caller's transaction holds one).
func (db *DB) readers() int {
	return max(1, min(4, runtime.GOMAXPROCS(0), int(db.pool.Config().MaxConns)-1))
}

// planBlock is a block of the day to read: its key and packet count.
type planBlock struct {
	key   blockKey
	count int
}

// daySlice is a run of a plan's blocks, read by one connection.
type daySlice struct {
	first, last int // indexes into the plan, inclusive
}

// splitPlan cuts plan into up to k runs of about as many packets.
func splitPlan(plan []planBlock, k int) []daySlice {
	if len(plan) == 0 {
		return nil
	}
	total := 0
	for _, b := range plan {
		total += b.count
	}
	var out []daySlice
	start, acc := 0, 0
	for i, b := range plan {
		acc += b.count
		if len(out) < k-1 && acc*k >= total*(len(out)+1) && i < len(plan)-1 {
			out = append(out, daySlice{start, i})
			start = i + 1
		}
	}
	return append(out, daySlice{start, len(plan) - 1})
}

// listDay returns the keys and counts of day d's blocks in storage order;
// with uncovered, only those no seal covers.
func listDay(ctx context.Context, conn *pgx.Conn, d time.Time, uncovered bool) ([]planBlock, error) {
	sql := `SELECT b.first_at, b.first_id, b.count FROM packet_blocks b WHERE b.first_at >= $1 AND b.first_at < $2`
	if uncovered {
		sql += ` AND NOT EXISTS (SELECT FROM seal_blocks s WHERE s.first_at = b.first_at AND s.first_id = b.first_id)`
	}
	rows, err := conn.Query(ctx, sql+` ORDER BY b.first_at, b.first_id`, d, d.Add(day))
	if err != nil {
		return nil, err
	}
	var (
		plan []planBlock
		b    planBlock
	)
	_, err = pgx.ForEachRow(rows, []any{&b.key.at, &b.key.id, &b.count}, func() error {
		b.key.at = b.key.at.UTC()
		plan = append(plan, b)
		return nil
	})
	return plan, err
}

// slicesPerReader: a day is cut into more slices than it has readers, each
// reader taking the next slice when it is done with one, so that the
// readers end together (one slice each left a core idle at the end while
// the other finished).
const slicesPerReader = 4

// readSlices reads the blocks of each slice of plan with readers
// connections, each taking the next slice in turn, all in the snapshot
// given (pg_export_snapshot of the caller's transaction). It calls
// fn(slice, index in plan, block) in storage order within a slice, from one
// goroutine at a time for a slice and concurrently across slices. A block
// read that the plan does not have at that place is an error.
func (db *DB) readSlices(ctx context.Context, snapshot string, d time.Time, uncovered bool, plan []planBlock, slices []daySlice,
	readers int, fn func(slice, at int, b *dayBlock) error) error {
	if len(slices) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readers = max(1, min(readers, len(slices)))
	errs := make([]error, readers)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = db.readSlicesOn(ctx, snapshot, d, uncovered, func() (int, bool) {
				i := int(next.Add(1)) - 1
				return i, i < len(slices)
			}, plan, slices, fn)
			if errs[r] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readSlicesOn reads the slices take hands it, one after another, on a
// connection of its own.
func (db *DB) readSlicesOn(ctx context.Context, snapshot string, d time.Time, uncovered bool, take func() (int, bool),
	plan []planBlock, slices []daySlice, fn func(slice, at int, b *dayBlock) error) error {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	image, err := db.blockImageOID(ctx)
	if err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, c.Conn(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'`); err != nil {
			return err
		}
		for {
			i, ok := take()
			if !ok {
				return nil
			}
			s := slices[i]
			part := plan[s.first : s.last+1]
			lo, hi := part[0].key, part[len(part)-1].key
			next := 0
			err := readDayRange(ctx, tx.Conn().PgConn(), d, uncovered, image, &lo, &hi, false, func(b *dayBlock) error {
				if next >= len(part) || part[next].key != b.key {
					return fmt.Errorf("%w: block (%s, %d) read out of the plan of %s", errBadBlock,
						b.key.at.Format(time.RFC3339Nano), b.key.id, d.Format(time.DateOnly))
				}
				next++
				return fn(i, s.first+next-1, b)
			})
			if err == nil && next != len(part) {
				err = fmt.Errorf("%w: %d blocks of a slice of %s's plan were not read", errBadBlock, len(part)-next, d.Format(time.DateOnly))
			}
			if err != nil {
				return err
			}
		}
	})
}

// splitTree is the part of a tree whose leaves one slice of a day holds,
// from leaf number start on. It keeps the roots of the aligned runs of
// proofChunk leaves it holds whole (prover says why they compose) and the
// leaves before the first and after the last: joinTrees puts the parts
// back together, memory staying a root per run.
type splitTree struct {
	start uint64
	n     uint64
	head  []Hash // leaves before the first run boundary at or after start
	roots []Hash // runs held whole, in order
	tail  []Hash // leaves after the last run boundary
}

func (t *splitTree) add(h Hash) {
	i := t.start + t.n
	t.n++
	if i < alignRun(t.start) {
		t.head = append(t.head, h)
		return
	}
	t.tail = append(t.tail, h)
	if len(t.tail) == proofChunk {
		t.roots = append(t.roots, merkleRoot(t.tail))
		t.tail = t.tail[:0]
	}
}

func alignRun(i uint64) uint64 { return (i + proofChunk - 1) / proofChunk * proofChunk }

// joinTrees returns the root of the tree whose parts are parts, in leaf
// order, each starting where the last ended, and its size.
func joinTrees(parts []*splitTree) (Hash, uint64, error) {
	var (
		roots []Hash
		run   []Hash
		n     uint64
	)
	push := func(hs []Hash) {
		for _, h := range hs {
			run = append(run, h)
			if len(run) == proofChunk {
				roots = append(roots, merkleRoot(run))
				run = run[:0]
			}
		}
	}
	for _, p := range parts {
		if p.start != n {
			return Hash{}, 0, fmt.Errorf("store: a slice's leaves start at %d, after %d", p.start, n)
		}
		push(p.head)
		if len(p.roots) > 0 {
			if len(run) != 0 {
				return Hash{}, 0, fmt.Errorf("store: a slice's runs are not aligned at %d", p.start)
			}
			roots = append(roots, p.roots...)
		}
		push(p.tail)
		n += p.n
	}
	if len(run) > 0 {
		roots = append(roots, merkleRoot(run))
	}
	return merkleRoot(roots), n, nil
}

// joinTreesLoose is joinTrees for verify, where a block that lost or
// gained packets leaves the next part starting elsewhere than the last
// ended: then the root is the zero hash, which no seal has, and the size
// is the leaves counted.
func joinTreesLoose(parts []*splitTree) (Hash, uint64, error) {
	var n uint64
	aligned := true
	for _, p := range parts {
		aligned = aligned && p.start == n
		n += p.n
	}
	if !aligned {
		return Hash{}, n, nil
	}
	return joinTrees(parts)
}
