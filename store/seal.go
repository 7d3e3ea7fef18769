package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sealing (migrations/0001_init.up.sql, "Sealed days"): once a UTC day has
// ended and SealConfig.After has passed, SealDays hashes its packets in
// storage order, blocks by (first_at, first_id) and packets in their
// block's order, which a dump and restore keeps, into the day's seal. A
// block written to a sealed day later is noted by the writer
// (notePending) and sealed, with any other block no seal covers, as the
// next addendum once After has passed since the day's last seal.

// SealConfig says when days are sealed and with which key.
type SealConfig struct {
	// After is the grace after a day ends before it is sealed, and after a
	// seal before late packets are sealed as an addendum.
	After time.Duration
	// Key, when set, signs every seal (Ed25519).
	Key ed25519.PrivateKey
	// Readers is how many connections read a day at once; 0: one per
	// core, at most 4 (readers). hepvault serve seals with one, so that
	// the job, which costs ~2.6 µs of CPU a packet (BENCHMARKS.md), leaves
	// a core to ingest and queries.
	Readers int
}

// DefaultSealConfig seals a day an hour after it ends, unsigned.
func DefaultSealConfig() SealConfig { return SealConfig{After: time.Hour} }

// sealLock serialises sealing between hepvault processes.
const sealLock = 0x68657073

// recheckSealed is how long after its grace a sealed day is looked at again
// for blocks no seal covers, pending note or not: a writer whose cache of
// sealed days was older than the seal wrote no note (sealCache).
const recheckSealed = 10 * time.Minute

// sealCache is the set of sealed days the writer checks each batch's days
// against: a map lookup per block, and a query once a minute at most.
type sealCache struct {
	mu     sync.Mutex
	days   map[time.Time]bool
	loaded time.Time
}

const sealCacheTTL = time.Minute

// sealedDays returns the days of blocks that are sealed.
func (db *DB) sealedDays(ctx context.Context, blocks []block) ([]time.Time, error) {
	c := &db.sealed
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.loaded) > sealCacheTTL {
		if err := c.loadLocked(ctx, db); err != nil {
			return nil, err
		}
	}
	if len(c.days) == 0 {
		return nil, nil
	}
	var out []time.Time
	var last time.Time
	for i := range blocks {
		d := dayOf(blocks[i].firstAt)
		if d.Equal(last) {
			continue
		}
		last = d
		if c.days[d] && !slices.ContainsFunc(out, d.Equal) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (c *sealCache) loadLocked(ctx context.Context, db *DB) error {
	days := map[time.Time]bool{}
	var d time.Time
	rows, err := db.pool.Query(ctx, `SELECT day FROM seals WHERE addendum = 0`)
	if err == nil {
		_, err = pgx.ForEachRow(rows, []any{&d}, func() error { days[d.UTC()] = true; return nil })
	}
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &pgErr) && pgErr.Code == "42P01":
		// A database migrated before seals existed (0001 is rewritten
		// until the first release): nothing is sealed there, and its
		// writes must go on.
	default:
		return err
	}
	c.days, c.loaded = days, time.Now()
	return nil
}

func (c *sealCache) add(d time.Time) {
	c.mu.Lock()
	if c.days == nil {
		c.days = map[time.Time]bool{}
	}
	c.days[d] = true
	c.mu.Unlock()
}

// notePending is the statement insertBlocks adds for each sealed day its
// blocks fall on.
const notePending = `INSERT INTO seal_pending (day, noted_at) VALUES ($1::date, now())
ON CONFLICT (day) DO UPDATE SET noted_at = EXCLUDED.noted_at`

// SealDays seals every day that ended After before now and has no seal,
// and seals as addenda the blocks no seal covers of the days noted pending
// (or sealed lately) whose last seal is After old. It returns the seals it
// made. The server calls it every minute.
func (db *DB) SealDays(ctx context.Context, now time.Time, cfg SealConfig) ([]Seal, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	if cfg.After < 0 {
		cfg.After = 0
	}
	tables, err := db.dayTables(ctx)
	if err != nil {
		return nil, err
	}
	type last struct {
		addendum int
		at       time.Time
	}
	sealed := map[time.Time]last{}
	rows, err := db.pool.Query(ctx, `SELECT day, max(addendum), max(sealed_at) FROM seals GROUP BY day`)
	if err != nil {
		return nil, interpretError("list seals", err)
	}
	var (
		d  time.Time
		l  last
		at time.Time
	)
	if _, err := pgx.ForEachRow(rows, []any{&d, &l.addendum, &at}, func() error {
		l.at = at
		sealed[d.UTC()] = l
		return nil
	}); err != nil {
		return nil, interpretError("list seals", err)
	}
	var made []Seal
	for _, t := range tables {
		if !t.attached || t.pending || t.day.Add(day+cfg.After).After(now) {
			continue
		}
		if _, ok := sealed[t.day]; ok {
			continue
		}
		s, ok, err := db.sealDay(ctx, t.day, 0, now, cfg)
		if err != nil {
			return made, err
		}
		if ok {
			made = append(made, s)
			db.sealed.add(t.day)
		}
	}

	var pending []time.Time
	rows, err = db.pool.Query(ctx, `SELECT day FROM seal_pending`)
	if err != nil {
		return made, interpretError("list pending seals", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&d}, func() error { pending = append(pending, d.UTC()); return nil }); err != nil {
		return made, interpretError("list pending seals", err)
	}
	for d, l := range sealed {
		if l.at.After(now.Add(-cfg.After-recheckSealed)) && !slices.ContainsFunc(pending, d.Equal) {
			pending = append(pending, d)
		}
	}
	slices.SortFunc(pending, time.Time.Compare)
	for _, d := range pending {
		l, ok := sealed[d]
		if ok && l.at.Add(cfg.After).After(now) {
			continue // within the grace after its last seal
		}
		// Removed before the blocks are read, in its own statement: a block
		// committed after this delete is read below or noted again.
		if _, err := db.pool.Exec(ctx, `DELETE FROM seal_pending WHERE day = $1`, d); err != nil {
			return made, interpretError("sealing", err)
		}
		if !ok {
			continue // not sealed yet: its first seal covers them
		}
		s, ok, err := db.sealDay(ctx, d, l.addendum+1, now, cfg)
		if err != nil {
			return made, err
		}
		if ok {
			made = append(made, s)
		}
	}
	return made, nil
}

// forgetSealedDay marks the seals of day d as of a day dropped on purpose
// (retention, the disk guard), in the transaction that drops it, so that
// verify says so rather than report it missing, and drops the day's
// seal_blocks rows, which only its packets needed.
func forgetSealedDay(ctx context.Context, tx pgx.Tx, d time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE seals SET dropped_at = now() WHERE day = $1 AND dropped_at IS NULL`, d); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM seal_blocks WHERE day = $1`, d)
	return err
}

// sealBlock is a block as a seal covers it (table seal_blocks).
type sealBlock struct {
	key      blockKey
	addendum int
	count    int
	digest   Hash
	leaves   []byte // 4 bytes of each leaf
}

// leafPrefixLen is how much of each leaf seal_blocks keeps: enough to tell
// which packet of a block changed, at 4 bytes a packet.
const leafPrefixLen = 4

func newSealBlock(key blockKey, addendum int, leaves []Hash) sealBlock {
	sb := sealBlock{key: key, addendum: addendum, count: len(leaves), leaves: make([]byte, 0, leafPrefixLen*len(leaves))}
	for i := range leaves {
		sb.leaves = append(sb.leaves, leaves[i][:leafPrefixLen]...)
	}
	sb.digest = blockDigest(leaves)
	return sb
}

// blockDigest is the SHA-256 of a block's leaves, one after another: the
// slice of hashes is those bytes, hashed in one call rather than a Write
// per leaf.
func blockDigest(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	return sha256.Sum256(unsafe.Slice(&leaves[0][0], len(leaves)*len(leaves[0])))
}

// sealDay seals the blocks of day d that no seal covers as seal number n,
// unless another process did first. An addendum (n > 0) with no block to
// cover is not made (ok false); a first seal is made even of no packets.
func (db *DB) sealDay(ctx context.Context, d time.Time, n int, now time.Time, cfg SealConfig) (Seal, bool, error) {
	key := cfg.Key
	var (
		s      = Seal{Day: d, Addendum: n, SealedAt: now.UTC().Truncate(time.Microsecond)}
		blocks int
		ok     bool
	)
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, sealLock); err != nil {
			return err
		}
		var next int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(addendum) + 1, 0) FROM seals WHERE day = $1`, d).Scan(&next); err != nil {
			return err
		}
		if next != n {
			return nil // sealed meanwhile
		}
		// A day's first seal covers all its blocks: seal_blocks is
		// written with the seals row, so none covers one yet, and the
		// reads need not ask.
		uncovered := n > 0
		plan, err := listDay(ctx, tx.Conn(), d, uncovered)
		if err != nil {
			return err
		}
		if n > 0 && len(plan) == 0 {
			return nil
		}
		// The blocks' seal_blocks rows are copied as they are read: the
		// transaction's connection is idle while other connections read.
		var snap string
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
			return err
		}
		readCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		var (
			ch      = make(chan sealBlock, 64)
			done    = make(chan struct{})
			root    Hash
			count   uint64
			readErr error
		)
		go func() {
			defer close(done)
			defer close(ch)
			root, count, readErr = db.sealPlan(readCtx, snap, d, n, uncovered, plan, cfg.Readers, func(sb sealBlock) error {
				select {
				case ch <- sb:
					return nil
				case <-readCtx.Done():
					return readCtx.Err()
				}
			})
		}()
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"seal_blocks"},
			[]string{"first_at", "first_id", "day", "addendum", "count", "digest", "leaves"},
			pgx.CopyFromFunc(func() ([]any, error) {
				r, ok := <-ch
				if !ok {
					<-done
					return nil, readErr
				}
				blocks++
				return []any{r.key.at, r.key.id, d, n, r.count, r.digest[:], r.leaves}, nil
			}))
		cancel()
		<-done
		if err != nil {
			return err
		}
		s.Count, s.Root = int64(count), root
		s.sign(key)
		var kid *string
		if s.KeyID != "" {
			kid = &s.KeyID
		}
		_, err = tx.Exec(ctx, `INSERT INTO seals (day, addendum, count, root, sealed_at, key_id, public_key, signature)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, d, n, s.Count, s.Root[:], s.SealedAt, kid, []byte(s.PublicKey), s.Signature)
		ok = err == nil
		return err
	})
	if err != nil {
		return Seal{}, false, interpretError("seal "+d.Format(time.DateOnly), err)
	}
	if ok {
		db.log.Info("sealed a day", "day", d.Format(time.DateOnly), "addendum", n, "packets", s.Count,
			"blocks", blocks, "signed", key != nil)
	}
	return s, ok, nil
}

// sealPlan reads the blocks of plan (with uncovered, only those no seal
// covers), in slices at once in the snapshot snap, hands each block's
// seal_blocks row to emit as it is read (emit is called from several
// goroutines at once), and returns their tree's root and size.
func (db *DB) sealPlan(ctx context.Context, snap string, d time.Time, n int, uncovered bool, plan []planBlock, readers int,
	emit func(sealBlock) error) (Hash, uint64, error) {
	if len(plan) == 0 {
		return emptyRoot, 0, nil
	}
	if readers <= 0 {
		readers = db.readers()
	}
	cut := splitPlan(plan, readers*slicesPerReader)
	parts := make([]*splitTree, len(cut))
	var start uint64
	for i, c := range cut {
		parts[i] = &splitTree{start: start}
		for _, b := range plan[c.first : c.last+1] {
			start += uint64(b.count)
		}
	}
	err := db.readSlices(ctx, snap, d, uncovered, plan, cut, readers, func(i, at int, b *dayBlock) error {
		if err := b.err(); err != nil {
			return err
		}
		if len(b.leaves) != plan[at].count {
			return fmt.Errorf("%w: block (%s, %d) holds %d packets; its count says %d", errBadBlock,
				b.key.at.Format(time.RFC3339Nano), b.key.id, len(b.leaves), plan[at].count)
		}
		for j := range b.leaves {
			parts[i].add(b.leaves[j])
		}
		return emit(newSealBlock(b.key, n, b.leaves)) // from each slice's goroutine
	})
	if err != nil {
		return Hash{}, 0, err
	}
	return joinTrees(parts)
}

// dayBlock is a block of a day as readDay gives it: its packets (aliasing
// the row, valid during the call) and their leaves.
type dayBlock struct {
	key    blockKey
	pkts   []hepvault.Packet // only when read with packets
	ids    []int64           // each packet's id
	first  time.Time         // the first packet's capture time
	leaves []Hash
	bad    error // why the block could not be read: it has no packets then
}

// err is the block's read error, naming the block; nil when it was read.
func (b *dayBlock) err() error {
	if b.bad == nil {
		return nil
	}
	return fmt.Errorf("block (%s, %d): %w", b.key.at.Format(time.RFC3339Nano), b.key.id, b.bad)
}

// readDay calls fn with each block of day d in storage order, decoded and
// hashed; with uncovered, only the blocks no seal covers; with image (the
// OID blockImageOID gives), through the blocks' images. Sealing, verify
// and exports all read a day through it (readSlices splits a day into
// ranges of it).
// Only with packets are the blocks' packets built (dayBlock.pkts): sealing
// and verify need their leaves, ids and first time, which are made from
// each packet's columns.
func readDay(ctx context.Context, conn *pgconn.PgConn, d time.Time, uncovered bool, image uint32, packets bool, fn func(*dayBlock) error) error {
	return readDayRange(ctx, conn, d, uncovered, image, nil, nil, packets, fn)
}

// readDayRange is readDay from block lo to block hi, inclusive (nil: the
// day's first, its last).
func readDayRange(ctx context.Context, conn *pgconn.PgConn, d time.Time, uncovered bool, image uint32, lo, hi *blockKey, packets bool,
	fn func(*dayBlock) error) error {
	var p params
	sql := `SELECT b.first_at, b.first_id, b.format, b.packets FROM packet_blocks b
		WHERE b.first_at >= ` + p.time(d) + ` AND b.first_at < ` + p.time(d.Add(day))
	if lo != nil {
		sql += ` AND (b.first_at, b.first_id) >= (` + p.time(lo.at) + `, ` + p.int8(lo.id) + `)`
	}
	if hi != nil {
		sql += ` AND (b.first_at, b.first_id) <= (` + p.time(hi.at) + `, ` + p.int8(hi.id) + `)`
	}
	if uncovered {
		sql += ` AND NOT EXISTS (SELECT FROM seal_blocks s WHERE s.first_at = b.first_at AND s.first_id = b.first_id)`
	}
	sql += ` ORDER BY b.first_at, b.first_id`
	if image != 0 {
		// Images made after the sort: one made in the scan is sorted whole,
		// and a day's spills to disk (the fence, OFFSET 0, keeps them apart).
		sql = `SELECT first_at, first_id, format, packets_image(packets) FROM (` + sql + ` OFFSET 0) b`
	}
	var (
		dec    blockDecoder
		leaves leafHasher
		b      dayBlock
	)
	return each(ctx, conn, sql, &p, func(v [][]byte) error {
		at, ok := fromPGTime(v[0])
		if !ok || len(v[1]) != 8 || len(v[2]) != 2 {
			return errBadBlock
		}
		b.key = blockKey{at, int64(binary.BigEndian.Uint64(v[1]))}
		format := int16(binary.BigEndian.Uint16(v[2]))
		b.pkts, b.ids, b.leaves, b.bad = b.pkts[:0], b.ids[:0], b.leaves[:0], nil
		if image != 0 {
			b.bad = dec.resetImage(format, v[3], image)
		} else {
			b.bad = dec.reset(format, v[3])
		}
		for b.bad == nil && dec.more() {
			var (
				id, us int64
				err    error
			)
			if packets {
				b.pkts = append(b.pkts, hepvault.Packet{})
				p := &b.pkts[len(b.pkts)-1]
				if err = dec.next(p); err == nil {
					leaves.add(p)
					id, us = p.ID, p.CapturedAt.UnixMicro()
				}
			} else {
				id, us, err = leaves.addNext(&dec)
			}
			if err != nil {
				b.bad = err
				break
			}
			if len(b.ids) == 0 {
				b.first = time.UnixMicro(us).UTC()
			}
			b.ids = append(b.ids, id)
		}
		b.leaves = leaves.sum(b.leaves)
		if b.bad != nil {
			b.pkts, b.ids, b.leaves = b.pkts[:0], b.ids[:0], b.leaves[:0]
		}
		return fn(&b)
	})
}

// Seals returns the seals of the days in [from, to) (zero: unbounded),
// oldest first.
func (db *DB) Seals(ctx context.Context, from, to time.Time) ([]Seal, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	return readSeals(ctx, db.pool, from, to)
}

// querier is a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func readSeals(ctx context.Context, q querier, from, to time.Time) ([]Seal, error) {
	sql := `SELECT day, addendum, count, root, sealed_at, coalesce(key_id, ''), public_key, signature, dropped_at FROM seals WHERE true`
	var args []any
	if !from.IsZero() {
		args = append(args, dayOf(from))
		sql += fmt.Sprintf(` AND day >= $%d`, len(args))
	}
	if !to.IsZero() {
		args = append(args, to)
		sql += fmt.Sprintf(` AND day < $%d`, len(args))
	}
	rows, err := q.Query(ctx, sql+` ORDER BY day, addendum`, args...)
	if err != nil {
		return nil, interpretError("list seals", err)
	}
	var (
		out       []Seal
		s         Seal
		root, pub []byte
	)
	var dropped *time.Time
	_, err = pgx.ForEachRow(rows, []any{&s.Day, &s.Addendum, &s.Count, &root, &s.SealedAt, &s.KeyID, &pub, &s.Signature, &dropped}, func() error {
		c := s
		c.DroppedAt = time.Time{}
		if dropped != nil {
			c.DroppedAt = dropped.UTC()
		}
		c.Day, c.SealedAt = s.Day.UTC(), s.SealedAt.UTC()
		if len(root) != len(c.Root) {
			return fmt.Errorf("%w: seal of %s has a root of %d bytes", errBadBlock, c.Day.Format(time.DateOnly), len(root))
		}
		c.Root = Hash(root)
		if len(pub) > 0 {
			c.PublicKey = ed25519.PublicKey(slices.Clone(pub))
		}
		c.Signature = slices.Clone(s.Signature)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, interpretError("list seals", err)
	}
	return out, nil
}
