package store

import (
	"context"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// WriteBatchOnce writes packets like WriteBatch but skips any packet already
// stored (same captured_at and id), so a batch whose first write had an
// unknown outcome, a replayed spool or a re-imported file is stored once. It
// returns how many packets were new. It costs a temporary table per call,
// so the steady path stays on WriteBatch.
func (w *Writer) WriteBatchOnce(ctx context.Context, pkts []hepvault.Packet) (int64, error) {
	start := time.Now()
	if err := w.ensurePartitions(ctx, start, pkts); err != nil {
		return 0, err
	}
	var inserted int64
	err := pgx.BeginFunc(ctx, w.db.pool, func(tx pgx.Tx) error {
		// ON COMMIT DROP: the table lives only as long as this transaction.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE packets_in (LIKE packets) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"packets_in"}, packetColumns, &packetRows{pkts: pkts, i: -1}); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO packets SELECT * FROM packets_in ON CONFLICT DO NOTHING`)
		inserted = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, interpretError("copy packets once", err)
	}
	w.stored.Add(uint64(inserted))
	w.batches.Add(1)
	w.lastFlushNanos.Store(int64(time.Since(start)))
	return inserted, nil
}
