package store

import (
	"context"
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
