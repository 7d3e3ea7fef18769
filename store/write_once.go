package store

import (
	"context"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// onceLock serialises WriteBatchOnce calls, in this process and others, so
// that two of them never both find a packet missing and both store it.
const onceLock = 0x68657078

// WriteBatchOnce writes packets like WriteBatch but skips any packet already
// stored (same captured_at and id), so a batch whose first write had an
// unknown outcome, a replayed spool or a re-imported file is stored once,
// whatever blocks the packets were stored in before. It returns how many
// packets were new. It reads the stored blocks of the batch's time span
// first, so the steady path stays on WriteBatch.
func (w *Writer) WriteBatchOnce(ctx context.Context, pkts []hepvault.Packet) (int64, error) {
	start := time.Now()
	// Partitions first: making one waits for every transaction reading
	// packet_blocks, which this one would be.
	if err := w.ensurePartitions(ctx, start, pkts); err != nil {
		return 0, err
	}
	var inserted int64
	var fresh []hepvault.Packet
	err := pgx.BeginFunc(ctx, w.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, onceLock); err != nil {
			return err
		}
		var err error
		fresh, err = w.notStored(ctx, tx, pkts)
		if err != nil {
			return err
		}
		inserted, err = w.insertBlocks(ctx, tx, fresh)
		return err
	})
	if err != nil {
		return 0, interpretError("write packets once", err)
	}
	if lost := int64(len(fresh)) - inserted; lost > 0 {
		// A block of packets none of which is stored was skipped: a stored
		// block starts with a different packet of the same id in the same
		// microsecond (ids repeat only across hepvault processes).
		w.rejected.Add(uint64(lost))
		w.log.Error("packets not stored: their block's key is taken by other packets", "packets", lost)
	}
	w.stored.Add(uint64(inserted))
	w.batches.Add(1)
	w.lastFlushNanos.Store(int64(time.Since(start)))
	return inserted, nil
}

// notStored returns the packets of pkts that no stored block holds.
func (w *Writer) notStored(ctx context.Context, q pgx.Tx, pkts []hepvault.Packet) ([]hepvault.Packet, error) {
	if len(pkts) == 0 {
		return nil, nil
	}
	lo, hi := pkts[0].CapturedAt, pkts[0].CapturedAt
	for i := range pkts {
		lo, hi = minTime(lo, pkts[i].CapturedAt), maxTime(hi, pkts[i].CapturedAt)
	}
	lo = floorMicro(lo)
	rows, err := q.Query(ctx, `SELECT data FROM packet_blocks
		WHERE first_at >= $1 AND first_at <= $2 AND last_at >= $3`, lo.Add(-maxBlockSpan), hi, lo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := map[packetKey]bool{}
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		d := newBlockDecoder(data)
		d.keysOnly = true
		var p hepvault.Packet
		for d.next(&p) {
			stored[keyOf(&p)] = true
		}
		if d.Err() != nil {
			return nil, d.Err()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		return pkts, nil
	}
	fresh := make([]hepvault.Packet, 0, len(pkts))
	for i := range pkts {
		if !stored[keyOf(&pkts[i])] {
			fresh = append(fresh, pkts[i])
		}
	}
	return fresh, nil
}

// packetKey identifies a packet: time.Time values of one instant can differ
// as map keys (location, monotonic reading), their Unix time cannot.
type packetKey struct {
	sec  int64
	nsec int32
	id   int64
}

func keyOf(p *hepvault.Packet) packetKey {
	return packetKey{p.CapturedAt.Unix(), int32(p.CapturedAt.Nanosecond()), p.ID}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// floorMicro rounds t down to PostgreSQL's precision, as a stored first_at
// or last_at is.
func floorMicro(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
