package store

import (
	"context"
	"io"
	"time"

	"github.com/hepvault/hepvault"
)

// EncodeForSpool gives tests in store_test a spool record's data for pkts,
// as the writer spools it.
func EncodeForSpool(pkts []hepvault.Packet) []byte { return appendEncoded(nil, newEncoded(pkts)) }

// WatchHeldUp runs the guard's watcher once as if Run's loop had been busy
// for held (a drop waiting on a long query).
func (r *Retention) WatchHeldUp(ctx context.Context, held time.Duration) {
	r.busySince.Store(time.Now().Add(-held).UnixNano())
	defer r.busySince.Store(0)
	r.watchOnce(ctx)
}

// DisableStats turns statistics off, for benchmarks that measure their cost.
func DisableStats(db *DB) { db.noStats = true }

// CopyBlocks is copyBlocks, for the archive's tests.
func CopyBlocks(w io.Writer, r io.Reader, fromOID, toOID uint32) (blocks, packets int64, sum string, err error) {
	c, err := copyBlocks(w, r, fromOID, toOID)
	return c.blocks, c.packets, c.sum, err
}

// BlockChecksumSQL is what the archive's copy is verified by, in SQL.
const BlockChecksumSQL = blockChecksumSQL

// DigestBlocks returns a function that decodes and hashes pkts, encoded as
// blocks, as sealing and verify do, and returns how many it hashed.
func DigestBlocks(pkts []hepvault.Packet) func() int {
	blocks := encodeBlocks(pkts)
	var (
		dec    blockDecoder
		leaves leafHasher
		hs     []Hash
		p      hepvault.Packet
	)
	return func() int {
		n := 0
		for i := range blocks {
			if err := dec.reset(blocks[i].format, blocks[i].packets); err != nil {
				panic(err)
			}
			for dec.more() {
				if err := dec.next(&p); err != nil {
					panic(err)
				}
				leaves.add(&p)
				n++
			}
			hs = leaves.sum(hs[:0])
		}
		return n
	}
}

// SealedDaysOf is what the writer does extra for each batch: which of its
// blocks' days are sealed.
func SealedDaysOf(ctx context.Context, db *DB, pkts []hepvault.Packet) func() int {
	blocks := encodeBlocks(pkts)
	return func() int {
		days, err := db.sealedDays(ctx, blocks)
		if err != nil {
			panic(err)
		}
		return len(days)
	}
}

// CallsWithoutLegs is Calls without finding the legs, to measure what they
// cost.
func CallsWithoutLegs(ctx context.Context, db *DB, f CallFilter) (CallsPage, error) {
	page, _, err := db.calls(ctx, f)
	return page, err
}

// CallsLegsApart is Calls with the legs found apart: the page, then a
// function that finds its legs.
func CallsLegsApart(ctx context.Context, db *DB, f CallFilter) (CallsPage, func() error, error) {
	page, seeds, err := db.calls(ctx, f)
	return page, func() error { _, err := db.legsOf(ctx, seeds); return err }, err
}
