package store

import (
	"context"

	"github.com/hepvault/hepvault"
)

// MaxLimit caps how many packets one query returns.
const MaxLimit = 10000

// Packets returns the packets f selects in (capture time, arrival) order, at
// most f.Limit of them, and whether more remain after the last one.
func (db *DB) Packets(ctx context.Context, f hepvault.Filter) ([]hepvault.Packet, bool, error) {
	if err := db.errNotReady(); err != nil {
		return nil, false, err
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	pkts, err := db.find(ctx, f, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(pkts) > limit
	if more {
		pkts = pkts[:limit]
	}
	return pkts, more, nil
}

// Call returns every packet of one Call-ID in order, up to MaxLimit.
func (db *DB) Call(ctx context.Context, callID string) ([]hepvault.Packet, error) {
	pkts, _, err := db.Packets(ctx, hepvault.Filter{CallID: callID, Limit: MaxLimit})
	return pkts, err
}
