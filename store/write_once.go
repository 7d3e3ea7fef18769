package store

import (
	"context"
	"hash/fnv"
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
	return w.writeOnce(ctx, pkts, encodeBlocks(pkts))
}

// writeEncodedOnce is WriteBatchOnce for an encoded batch.
func (w *Writer) writeEncodedOnce(ctx context.Context, batch encoded) (int64, error) {
	pkts, ok := w.decodeBatch(batch)
	if !ok {
		return 0, nil
	}
	return w.writeOnce(ctx, pkts, batch.blocks)
}

// writeOnce is WriteBatchOnce; blocks are pkts encoded.
func (w *Writer) writeOnce(ctx context.Context, pkts []hepvault.Packet, blocks []block) (int64, error) {
	start := time.Now()
	// Partitions first: making one waits for every transaction reading
	// packet_blocks, which this one would be.
	if err := w.ensurePartitions(ctx, blocks); err != nil {
		return 0, err
	}
	var inserted int64
	var (
		fresh []hepvault.Packet
		taken int
	)
	err := pgx.BeginFunc(ctx, w.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, onceLock); err != nil {
			return err
		}
		var err error
		fresh, taken, err = w.notStored(ctx, tx, pkts)
		if err != nil {
			return err
		}
		if len(fresh) < len(pkts) {
			blocks = encodeBlocks(fresh)
		}
		var counted statCounts
		counted.addPackets(fresh)
		inserted, err = w.db.insertBlocks(ctx, tx.Conn(), blocks, &counted)
		return err
	})
	if err != nil {
		return 0, interpretError("write packets once", err)
	}
	if lost := int64(len(fresh)) - inserted + int64(taken); lost > 0 {
		// A block of packets none of which is stored was skipped: a stored
		// block starts with a different packet of the same id in the same
		// microsecond (ids repeat only across hepvault processes).
		w.rejected.Add(uint64(lost))
		w.log.Error("packets not stored: their block's key is taken by other packets", "packets", lost)
	}
	w.stored.Add(uint64(inserted))
	w.wrote(len(pkts), time.Since(start))
	return inserted, nil
}

// notStored returns the packets of pkts that no stored block holds, and how
// many others have their key (capture time to the microsecond and id) taken
// by a different stored packet: those cannot be stored.
func (w *Writer) notStored(ctx context.Context, q pgx.Tx, pkts []hepvault.Packet) ([]hepvault.Packet, int, error) {
	if len(pkts) == 0 {
		return nil, 0, nil
	}
	lo, hi := pkts[0].CapturedAt, pkts[0].CapturedAt
	for i := range pkts {
		lo, hi = minTime(lo, pkts[i].CapturedAt), maxTime(hi, pkts[i].CapturedAt)
	}
	lo = floorMicro(lo)
	stored := map[packetKey]uint64{} // the hash of each stored payload
	var (
		pr params
		d  blockDecoder
		p  hepvault.Packet
	)
	sql := `SELECT b.format, b.packets FROM packet_blocks b WHERE b.first_at >= ` + pr.time(lo.Add(-maxBlockSpan)) +
		` AND b.first_at <= ` + pr.time(hi) + ` AND b.last_at >= ` + pr.time(lo)
	err := each(ctx, q.Conn().PgConn(), sql, &pr, func(v [][]byte) error {
		if len(v[0]) != 2 {
			return errBadBlock
		}
		if err := d.reset(int16(beUint16(v[0])), v[1]); err != nil {
			return err
		}
		for d.more() {
			if err := d.next(&p); err != nil {
				return err
			}
			stored[keyOf(&p)] = rawHash(p.Raw)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(stored) == 0 {
		return pkts, 0, nil
	}
	fresh := make([]hepvault.Packet, 0, len(pkts))
	taken := 0
	for i := range pkts {
		h, ok := stored[keyOf(&pkts[i])]
		switch {
		case !ok:
			fresh = append(fresh, pkts[i])
		case h != rawHash(pkts[i].Raw):
			taken++
		}
	}
	return fresh, taken, nil
}

// rawHash is 64-bit FNV-1a of a payload.
func rawHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// packetKey identifies a packet as stored: capture time to the microsecond
// (PostgreSQL's precision) and id. time.Time values of one instant can
// differ as map keys (location, monotonic reading); their Unix time cannot.
type packetKey struct {
	us int64
	id int64
}

func keyOf(p *hepvault.Packet) packetKey { return packetKey{p.CapturedAt.UnixMicro(), p.ID} }

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
