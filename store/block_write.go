package store

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// Limits of one block. A block spans less than maxBlockSpan of capture time
// so that a window query finds every block that may hold a packet of the
// window by its first packet's time alone (first_at >= from - maxBlockSpan);
// and it stays small enough that reading one call's blocks costs little.
const (
	maxBlockPackets = 128
	maxBlockBytes   = 256 << 10
	maxBlockSpan    = time.Second
)

// blockRow is one row of packet_blocks.
type blockRow struct {
	firstAt, lastAt time.Time
	firstID         int64
	count           int32
	calls           []int64
	data            []byte
}

// blockBufs recycles the encoding buffer of a batch.
var blockBufs = sync.Pool{New: func() any { return new([]byte) }}

// encodeBlocks sorts pkts by (capture time, id), without reordering the
// caller's slice, and cuts them into blocks. The same packets always give
// the same blocks, so a batch written again collides with its first write
// on (first_at, first_id) and is skipped. The rows' data share *buf.
func encodeBlocks(pkts []hepvault.Packet, buf *[]byte) []blockRow {
	order := make([]int32, len(pkts))
	for i := range order {
		order[i] = int32(i)
	}
	sorted := true
	for i := 1; i < len(pkts) && sorted; i++ {
		sorted = comparePackets(&pkts[i-1], &pkts[i]) <= 0
	}
	if !sorted {
		slices.SortStableFunc(order, func(a, b int32) int { return comparePackets(&pkts[a], &pkts[b]) })
	}
	var (
		rows  []blockRow
		enc   blockEncoder
		start int // offset in b of the open block
		open  bool
		calls []int64
		hash  callHasher
	)
	b := (*buf)[:0]
	closeBlock := func(last *hepvault.Packet) {
		r := &rows[len(rows)-1]
		r.lastAt = last.CapturedAt
		r.data = b[start:len(b):len(b)]
		slices.Sort(calls)
		r.calls = slices.Clip(slices.Compact(calls))
		if r.calls == nil {
			r.calls = []int64{} // NOT NULL: no packet has a Call-ID
		}
		calls, open = nil, false
	}
	for k, i := range order {
		p := &pkts[i]
		if open {
			r := &rows[len(rows)-1]
			if int(r.count) >= maxBlockPackets || len(b)-start >= maxBlockBytes ||
				p.CapturedAt.Sub(r.firstAt) >= maxBlockSpan || dayOf(p.CapturedAt) != dayOf(r.firstAt) {
				closeBlock(&pkts[order[k-1]])
			}
		}
		if !open {
			start, open = len(b), true
			rows = append(rows, blockRow{firstAt: p.CapturedAt, firstID: p.ID})
			enc.begin()
		}
		b = enc.add(b, p)
		rows[len(rows)-1].count++
		if id := cleanText(p.CallID); id != "" {
			calls = append(calls, hash.sum(id))
		}
	}
	if open {
		closeBlock(&pkts[order[len(order)-1]])
	}
	*buf = b
	return rows
}

func comparePackets(a, b *hepvault.Packet) int {
	if c := a.CapturedAt.Compare(b.CapturedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func dayOf(t time.Time) time.Time { return t.UTC().Truncate(day) }

const insertBlock = `INSERT INTO packet_blocks (first_at, first_id, last_at, count, calls, data)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`

// batchSender is a pool or a transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// insertBlocks writes pkts as blocks with one round trip, in one transaction
// (q's, or the batch's implicit one), and returns how many packets were new:
// a block already stored (same first packet) is skipped, so writing a batch
// again stores nothing twice. Partitions must exist (ensurePartitions).
func (w *Writer) insertBlocks(ctx context.Context, q batchSender, pkts []hepvault.Packet) (int64, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	buf := blockBufs.Get().(*[]byte)
	defer blockBufs.Put(buf)
	rows := encodeBlocks(pkts, buf)
	var batch pgx.Batch
	for _, r := range rows {
		batch.Queue(insertBlock, r.firstAt, r.firstID, r.lastAt, r.count, r.calls, r.data)
	}
	res := q.SendBatch(ctx, &batch)
	var n int64
	for _, r := range rows {
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			return 0, err // the transaction is rolled back
		}
		if tag.RowsAffected() == 1 {
			n += int64(r.count)
		}
	}
	return n, res.Close()
}
