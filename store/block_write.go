package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Limits of one block. A block spans less than maxBlockSpan of capture time
// so that a window query finds every block that may hold a packet of the
// window by its first packet's time alone (first_at >= from - maxBlockSpan),
// and it stays small enough that reading one call's blocks costs little.
// Under heavy traffic a block fills with maxBlockPackets in milliseconds;
// the span matters under light traffic, where a longer one gives larger
// blocks that compress better (a quarter fewer bytes a packet at 16
// packets a second with 4 s than with 1 s), for a window query that passes
// over up to 4 s of blocks ending before it (at 100,000 packets a second,
// ~3,000 small heap rows).
const (
	maxBlockPackets = 128
	maxBlockBytes   = 256 << 10
	maxBlockSpan    = 4 * time.Second
)

// encodeBlocks sorts pkts by (capture time to the microsecond, id), without
// reordering the caller's slice, and cuts them into blocks. The same packets
// always give the same blocks, so a batch written again collides with its
// first write on (first_at, first_id) and is skipped. The blocks' arrays
// share one buffer.
func encodeBlocks(pkts []hepvault.Packet) []block {
	blocks, _ := encodeBlocksInto(pkts, nil)
	return blocks
}

// encodeBlocksInto is encodeBlocks writing the blocks' arrays into buf when
// it is large enough, so that a writer reuses one buffer batch after batch
// (a 2,000-packet batch encodes to ~2 MB). It returns the buffer used.
func encodeBlocksInto(pkts []hepvault.Packet, buf []byte) ([]block, []byte) {
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
		blocks []block
		enc    metaEncoder
		terms  []int32 // the terms of the packet being added
		set    termSet // the open block's distinct terms
		start  int     // index in order of the open block's first packet
		at     int     // where the open block's array starts in enc.b
	)
	// One buffer for every block's array, sized for the batch, so that the
	// blocks do not move it while it grows.
	size := 0
	for i := range pkts {
		size += len(pkts[i].Raw) + 400
	}
	if need := size + (len(pkts)/maxBlockPackets+1)*32; cap(buf) < need {
		buf = make([]byte, 0, need+need/4)
	}
	enc.b = buf[:0]
	closeBlock := func(end int) {
		b := &blocks[len(blocks)-1]
		b.lastAt = pkts[order[end-1]].CapturedAt.Truncate(time.Microsecond).UTC()
		b.count = int32(end - start)
		b.terms = set.sorted()
		b.packets = enc.b[at:len(enc.b):len(enc.b)]
		binary.BigEndian.PutUint32(b.packets[12:], uint32(b.count))
	}
	for k, i := range order {
		p := &pkts[i]
		if k > start {
			b := &blocks[len(blocks)-1]
			if k-start >= maxBlockPackets || len(enc.b)-at >= maxBlockBytes ||
				p.CapturedAt.Sub(b.firstAt) >= maxBlockSpan || dayOf(p.CapturedAt) != dayOf(b.firstAt) {
				closeBlock(k)
				start = k
			}
		}
		if k == start {
			blocks = append(blocks, block{
				firstAt: p.CapturedAt.Truncate(time.Microsecond).UTC(), firstID: p.ID, format: currentFormat,
			})
			at = len(enc.b)
			enc.b = arrayHeader(enc.b, 0, 0) // packet_v1's OID is set on sending (setMetaOID)
		}
		enc.add(p)
		terms = appendTerms(terms[:0], p)
		for _, t := range terms {
			set.add(t)
		}
	}
	if len(order) > 0 {
		closeBlock(len(order))
	}
	return blocks, enc.b
}

// comparePackets orders packets as blocks store them: by capture time to
// the microsecond, PostgreSQL's precision, then by id.
func comparePackets(a, b *hepvault.Packet) int {
	if c := cmp.Compare(a.CapturedAt.UnixMicro(), b.CapturedAt.UnixMicro()); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func dayOf(t time.Time) time.Time { return t.UTC().Truncate(day) }

const insertBlock = `INSERT INTO packet_blocks (first_at, first_id, last_at, count, format, terms, packets)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`

const insertBlockName = "hepvault_insert_block"

// insertBlocksPool is insertBlocks on a connection of the pool.
func (db *DB) insertBlocksPool(ctx context.Context, blocks []block, counted *statCounts) (int64, error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Release()
	return db.insertBlocks(ctx, c.Conn(), blocks, counted)
}

// insertBlocks writes blocks, and the statistics and recording-session
// requests (recording_write.go) of those the database takes (stats.go), in
// one transaction: the one conn is in, or one it
// begins and commits. It returns how many packets were new: a block already
// stored (same first packet) is skipped, so writing a batch again stores
// and counts nothing twice. counted, when not nil, holds the counts of
// every packet of blocks; they are written as they are when every block is
// new, else the new blocks are counted again by decoding them. Partitions
// must exist (ensurePartitions).
//
// Two round trips: the blocks, each sent through a pipeline as soon as it
// is bound (a batch's blocks bound into one growing buffer, pgconn.Batch,
// cost the writer as much copying as encoding them); then, once the
// results say which blocks were new, their statistics and the commit.
func (db *DB) insertBlocks(ctx context.Context, conn *pgx.Conn, blocks []block, counted *statCounts) (int64, error) {
	if len(blocks) == 0 {
		return 0, nil
	}
	oid, err := db.packetTypeOID(ctx)
	if err != nil {
		return 0, err
	}
	// Blocks of a sealed day are noted, in their transaction, for the next
	// addendum (seal.go); any other batch pays a map lookup per block.
	late, err := db.sealedDays(ctx, blocks)
	if err != nil {
		return 0, err
	}
	// Prepared once per connection (pgx remembers it): parsing and planning
	// the insert for every block cost more than the insert.
	if _, err := conn.Prepare(ctx, insertBlockName, insertBlock); err != nil {
		return 0, err
	}
	withStats := !db.noStats
	if withStats {
		if _, err := conn.Prepare(ctx, insertStatsName, insertStats); err != nil {
			return 0, err
		}
	}
	// Without statistics the pipeline's implicit transaction is enough.
	begin := withStats && conn.PgConn().TxStatus() == 'I'
	fail := func(err error) (int64, error) {
		if begin && conn.PgConn().TxStatus() != 'I' && !conn.IsClosed() {
			// A connection left in a transaction is not reused by the pool
			// anyway; rolled back here, it is.
			_ = conn.PgConn().Exec(ctx, "ROLLBACK").Close()
		}
		return 0, err
	}
	p := conn.PgConn().StartPipeline(ctx)
	if begin {
		p.SendQueryParams("BEGIN", nil, nil, nil, nil)
	}
	var fixed [30]byte
	for i := range blocks {
		b := &blocks[i]
		setMetaOID(b.packets, oid)
		binary.BigEndian.PutUint64(fixed[0:], uint64(b.firstAt.UnixMicro()-pgEpoch))
		binary.BigEndian.PutUint64(fixed[8:], uint64(b.firstID))
		binary.BigEndian.PutUint64(fixed[16:], uint64(b.lastAt.UnixMicro()-pgEpoch))
		binary.BigEndian.PutUint32(fixed[24:], uint32(b.count))
		binary.BigEndian.PutUint16(fixed[28:], uint16(b.format))
		terms := int4Array(make([]byte, 0, 20+8*len(b.terms)), b.terms)
		p.SendQueryPrepared(insertBlockName,
			[][]byte{fixed[0:8], fixed[8:16], fixed[16:24], fixed[24:28], fixed[28:30], terms, b.packets},
			oneBinary, nil)
		if err := p.Flush(); err != nil {
			p.Close()
			return fail(err)
		}
	}
	for _, d := range late {
		p.SendQueryParams(notePending, [][]byte{[]byte(d.Format(time.DateOnly))}, nil, nil, nil)
	}
	var (
		n     int64
		isNew = make([]bool, len(blocks))
		first = 0 // index of the first block's result
	)
	if begin {
		first = 1
	}
	err = syncResults(p, func(i int, tag pgconn.CommandTag) {
		if j := i - first; j >= 0 && j < len(blocks) && tag.RowsAffected() == 1 {
			isNew[j] = true
			n += int64(blocks[j].count)
		}
	})
	if err != nil {
		p.Close()
		return fail(err) // nothing is committed
	}
	if !withStats {
		return n, p.Close()
	}
	if n > 0 {
		st := counted
		if st == nil || n < countPackets(blocks) {
			st = &statCounts{}
			if err := st.addBlocks(blocks, func(i int) bool { return isNew[i] }); err != nil {
				p.Close()
				return fail(err)
			}
		}
		rows, _ := st.rows(nil, nil)
		for i := range rows {
			r := &rows[i]
			p.SendQueryPrepared(insertStatsName, [][]byte{r.minute[:], []byte(r.dim), r.keys, r.counts}, oneBinary, nil)
		}
		for i := range st.recordings {
			values, oids, formats := st.recordings[i].params()
			p.SendQueryParams(insertRecording, values, oids, formats, nil)
		}
	}
	if begin {
		p.SendQueryParams("COMMIT", nil, nil, nil, nil)
	}
	if err := syncResults(p, func(int, pgconn.CommandTag) {}); err != nil {
		p.Close()
		return fail(err)
	}
	return n, p.Close()
}

// syncResults sends a sync and reads the pipeline's results up to it,
// calling fn with each statement's index and tag. The first error ends it.
func syncResults(p *pgconn.Pipeline, fn func(i int, tag pgconn.CommandTag)) error {
	if err := p.Sync(); err != nil {
		return err
	}
	for i := 0; ; {
		res, err := p.GetResults()
		if err != nil {
			return err
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			tag, err := r.Close()
			if err != nil {
				return err
			}
			fn(i, tag)
			i++
		case *pgconn.PipelineSync:
			return nil
		case nil:
			return errors.New("the pipeline ended before its sync")
		}
	}
}

func countPackets(blocks []block) int64 {
	var n int64
	for i := range blocks {
		n += int64(blocks[i].count)
	}
	return n
}

// encoded is a batch cut into blocks and encoded once: the same blocks go to
// the database or, while it is away, to the spool (appendEncoded).
type encoded struct {
	blocks  []block
	packets int
	// stats counts the packets of blocks; nil for a batch read back from the
	// spool, whose blocks are counted by decoding them.
	stats *statCounts
}

func newEncoded(pkts []hepvault.Packet) encoded {
	st := &statCounts{}
	st.addPackets(pkts)
	return encoded{blocks: encodeBlocks(pkts), packets: len(pkts), stats: st}
}

// decode returns the batch's packets, each owning its memory.
func (e encoded) decode() ([]hepvault.Packet, error) {
	pkts := make([]hepvault.Packet, 0, e.packets)
	var d blockDecoder
	for i := range e.blocks {
		if err := d.reset(e.blocks[i].format, e.blocks[i].packets); err != nil {
			return nil, err
		}
		for d.more() {
			var p hepvault.Packet
			if err := d.next(&p); err != nil {
				return nil, err
			}
			own(&p)
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

// appendEncoded appends e's blocks as the spool keeps them (appendBlock).
func appendEncoded(dst []byte, e encoded) []byte {
	for i := range e.blocks {
		dst = appendBlock(dst, &e.blocks[i])
	}
	return dst
}

// readEncoded reads what appendEncoded wrote; the blocks alias data.
func readEncoded(data []byte, packets int) (encoded, error) {
	e := encoded{packets: packets}
	n := 0
	for len(data) > 0 {
		b, rest, err := readBlock(data)
		if err != nil {
			return e, err
		}
		e.blocks = append(e.blocks, b)
		n += int(b.count)
		data = rest
	}
	if n != packets {
		return e, fmt.Errorf("%w: blocks of %d packets where %d were spooled", errBadBlock, n, packets)
	}
	return e, nil
}
