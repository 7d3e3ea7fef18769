package store

import (
	"context"
	"errors"
	"sync"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// One COPY is latency-bound: the writer waits for PostgreSQL to take and
// commit the rows, and PostgreSQL works on one core meanwhile. A large batch
// is therefore split into parts copied at once, each on its own pool
// connection in its own transaction (BenchmarkWriteBatch_Parallel showed
// two COPYs at once writing 1.5-4x more than one).
//
// A part can commit while another fails. WriteBatch then returns the error
// like any failed write; every retry after a failed write skips the packets
// stored already (writeWithRetry, writeOneByOne, the spool's MayBeStored),
// so each packet is still stored once and counted once.

// minPartPackets is the smallest part worth its own COPY: below it the
// round trip costs more than the second connection gains.
const minPartPackets = 250

// copyParts is how many concurrent COPYs a batch of n packets gets.
func (w *Writer) copyParts(n int) int {
	return max(1, min(w.cfg.CopyParts, n/minPartPackets, w.maxCopyParts))
}

// maxCopyPartsFor leaves half the pool to the spool replayer and queries.
func maxCopyPartsFor(db *DB) int {
	return max(1, int(db.pool.Config().MaxConns)/2)
}

// copySplit writes pkts in parts COPYs at once and returns how many packets
// were committed and the parts' errors joined.
func (w *Writer) copySplit(ctx context.Context, pkts []hepvault.Packet, parts int) (int64, error) {
	if parts <= 1 {
		n, err := w.db.pool.CopyFrom(ctx, pgx.Identifier{"packets"}, packetColumns, &packetRows{pkts: pkts, i: -1})
		if err != nil {
			return 0, interpretError("copy packets", err) // a failed COPY commits nothing
		}
		return n, nil
	}
	counts := make([]int64, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for k := range parts {
		part := pkts[k*len(pkts)/parts : (k+1)*len(pkts)/parts]
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[k], errs[k] = w.copySplit(ctx, part, 1)
		}()
	}
	wg.Wait()
	var n int64
	for k := range parts {
		if errs[k] == nil {
			n += counts[k]
		}
	}
	return n, errors.Join(errs...)
}
