package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// How a query finds its blocks (terms.go says what a block's terms are):
//
//   - With no condition that has a term (a window, paging, text), it walks
//     the blocks of the window in order along packet_blocks_first, in pages
//     growing from firstBlockPage to maxBlockPage, and stops at the first
//     block that starts after the n-th packet found.
//   - Otherwise it first walks up to walkBlocks blocks the same way, testing
//     each block's terms in the database so that only the blocks that hold
//     a match are sent and decoded. When at least one block in walkHitRate
//     held a match (kind=request, method=INVITE, status=486), walking on is
//     the cheapest way to the next ones, and it walks on.
//   - Otherwise, or at once for a rare term (a Call-ID, a number), it asks
//     the term index (packet_blocks_terms) for the keys of the blocks that
//     hold a match, in order, keysPage at most at a time, and reads those
//     blocks. After a walk that found some, it asks slice by slice of the
//     window, each four times as long as the last, starting at four times
//     the span walked: a value in one block of 20 (status=503) would
//     otherwise have the index name every block of the window that holds
//     it, tens of thousands over a week, to read the first hundred.
//
// Every packet read is checked against the whole filter (matches): a term
// says a block may hold a match, not which packet does.
const (
	firstBlockPage = 8
	maxBlockPage   = 512
	walkBlocks     = 64
	walkHitRate    = 8
	keysPage       = 4096
	minSlice       = time.Minute
)

type blockKey struct {
	at time.Time
	id int64
}

// find returns up to n packets that f selects, in (capture time, id) order.
func (db *DB) find(ctx context.Context, f hepvault.Filter, n int) ([]hepvault.Packet, error) {
	if f.Text != "" && (f.From.IsZero() || f.To.IsZero() || f.To.Sub(f.From) > hepvault.MaxTextWindow) {
		return nil, fmt.Errorf("%w: text is searched by reading every message of the window, so it needs from and to at most %s apart",
			hepvault.ErrInvalid, hepvault.MaxTextWindow)
	}
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, interpretError("query packets", err)
	}
	defer c.Release()
	q := blockQuery{conn: c.Conn(), f: &f, groups: termGroups(&f), r: result{n: n, f: &f, sorted: true}}
	if err := q.run(ctx); err != nil {
		return nil, interpretError("query packets", err)
	}
	return q.r.final(), nil
}

// blockQuery is one find in progress.
type blockQuery struct {
	conn                  *pgx.Conn
	f                     *hepvault.Filter
	groups                [][]int32
	r                     result
	after                 *blockKey // the last block read
	done                  bool      // no later block can matter
	blocksRead, blocksHit int       // blocks read, and those that held a match
	// callIDs, when set, are the Call-IDs asked for, beside f: the packets
	// of several calls at once (groups then holds their terms; see
	// DB.callsOf).
	callIDs map[string]struct{}
}

func (q *blockQuery) run(ctx context.Context) error {
	if len(q.groups) == 0 {
		return q.walk(ctx, -1)
	}
	if rareTerms(q.f) {
		return q.lookup(ctx, time.Time{}, 0)
	}
	start := lowerBound(*q.f)
	if err := q.walk(ctx, walkBlocks); err != nil || q.done {
		return err
	}
	switch {
	case q.blocksHit*walkHitRate >= q.blocksRead:
		return q.walk(ctx, -1)
	case q.blocksHit == 0:
		return q.lookup(ctx, time.Time{}, 0) // rare after all
	}
	// Slices start where the walk stopped: at the last block read, which
	// the key query passes over (q.after), so the next block is in them.
	slice := minSlice
	if !start.IsZero() && q.after != nil {
		slice = max(slice, 4*q.after.at.Sub(start))
	}
	return q.lookup(ctx, q.after.at, slice)
}

// window adds the conditions on a block's time that f and the blocks read
// so far set, for a block table aliased b.
func (q *blockQuery) window(p *params) string {
	var conds []string
	if lo := lowerBound(*q.f); !lo.IsZero() {
		lo = floorMicro(lo)
		conds = append(conds, "b.first_at >= "+p.time(lo.Add(-maxBlockSpan)), "b.last_at >= "+p.time(lo))
	}
	if !q.f.To.IsZero() {
		conds = append(conds, "b.first_at < "+p.time(q.f.To))
	}
	if q.after != nil {
		conds = append(conds, "(b.first_at, b.first_id) > ("+p.time(q.after.at)+", "+p.int8(q.after.id)+")")
	}
	if len(conds) == 0 {
		return "true"
	}
	return strings.Join(conds, " AND ")
}

// hit is the condition on b.terms that a block holding a match meets.
func (q *blockQuery) hit(p *params) string {
	if len(q.groups) == 0 {
		return "true"
	}
	conds := make([]string, len(q.groups))
	for i, g := range q.groups {
		op := " && "
		if len(g) == 1 {
			op = " @> "
		}
		arr := p.int4s(g)
		if len(q.callIDs) > 0 {
			// Seen as a constant, hundreds of rare Call-ID terms look to
			// the planner like most of the table, and it reads every
			// block's terms (1.4 s at 1 M packets); behind a subquery it
			// asks the index (13 ms).
			arr = "(SELECT " + arr + ")"
		}
		conds[i] = "b.terms" + op + arr
	}
	return strings.Join(conds, " AND ")
}

// packets is the expression that sends the packets of block b that may
// match: those that pass the conditions PostgreSQL can test on a packet's
// own fields, which are a looser form of matches (users, and times to the
// nanosecond, are left to it). A block of 60 packets that holds one INVITE then
// sends one packet, not 60 to decode.
func (q *blockQuery) packets(p *params) string {
	f := q.f
	var conds []string
	in := func(col string, elemOID, arrayOID uint32, elems [][]byte) {
		if len(elems) > 0 {
			conds = append(conds, col+" = ANY("+p.array(elemOID, arrayOID, elems)+")")
		}
	}
	int2s := func(n int, at func(int) int) [][]byte {
		var e [][]byte
		for i := range n {
			e = append(e, binary.BigEndian.AppendUint16(nil, uint16(at(i))))
		}
		return e
	}
	in("p.kind", oidInt2, oidInt2Array, int2s(len(f.Kinds), func(i int) int { return int(f.Kinds[i]) }))
	in("p.status_code", oidInt2, oidInt2Array, int2s(len(f.Statuses), func(i int) int { return f.Statuses[i] }))
	in("p.status_code / 100", oidInt2, oidInt2Array, int2s(len(f.StatusClasses), func(i int) int { return int(f.StatusClasses[i]) }))
	var e [][]byte
	for _, m := range f.Methods {
		e = append(e, []byte(cleanText(m)))
	}
	in("p.method", oidText, oidTextArray, e)
	e = nil
	for _, c := range f.CaptureIDs {
		e = append(e, binary.BigEndian.AppendUint64(nil, uint64(c)))
	}
	in("p.capture_id", oidInt8, oidInt8Array, e)
	addrs := func(as []netip.Addr) [][]byte {
		var e [][]byte
		for _, a := range as {
			var enc metaEncoder
			enc.inet(a)
			e = append(e, enc.b[8:]) // past the OID and length
		}
		return e
	}
	in("p.src_ip", oidInet, oidInetArray, addrs(f.SrcIPs))
	in("p.dst_ip", oidInet, oidInetArray, addrs(f.DstIPs))
	if len(f.IPs) > 0 {
		ips := p.array(oidInet, oidInetArray, addrs(f.IPs))
		conds = append(conds, "(p.src_ip = ANY("+ips+") OR p.dst_ip = ANY("+ips+"))")
	}
	if f.CallID != "" {
		conds = append(conds, "p.call_id = "+p.add(oidText, []byte(cleanText(f.CallID))))
	}
	if len(q.callIDs) > 0 {
		var e [][]byte
		for id := range q.callIDs {
			e = append(e, []byte(cleanText(id)))
		}
		in("p.call_id", oidText, oidTextArray, e)
	}
	if f.CorrelationID != "" {
		x := p.add(oidText, []byte(cleanText(f.CorrelationID)))
		conds = append(conds, "(p.correlation_id = "+x+" OR p.correlation_header = "+x+")")
	}
	if f.Text != "" {
		conds = append(conds, "position("+p.add(oidBytea, []byte(f.Text))+" in p.raw) > 0")
	}
	// A block that starts before the window's lower bound sends only what
	// lies past it (a block spans up to 4 s).
	var lo string
	if at := lowerBound(*f); !at.IsZero() {
		lo = p.time(floorMicro(at))
		conds = append(conds, "p.captured_at >= "+lo)
	}
	switch {
	case len(conds) == 0:
		return "b.packets"
	case len(conds) == 1 && lo != "":
		return "CASE WHEN b.first_at >= " + lo + " THEN b.packets ELSE ARRAY(SELECT p FROM unnest(b.packets) AS p WHERE " + conds[0] + ") END"
	}
	return "ARRAY(SELECT p FROM unnest(b.packets) AS p WHERE " + strings.Join(conds, " AND ") + ")"
}

// walk reads the blocks of the window in order, up to limit of them (-1:
// all), sending only those whose terms hold a match. A window that ends
// after the UTC day the walk is in is walked a day at a time (walkDayEnd):
// a page over every day's partition has PostgreSQL plan each and fetch the
// first block of each, unnesting it when it holds a match, for the blocks of
// one (0.5 ms of a 1-2 ms statement over a week).
func (q *blockQuery) walk(ctx context.Context, limit int) error {
	first := firstBlockPage
	if len(q.groups) == 0 && q.r.n > 0 {
		// Every packet of a block may be asked for: as many blocks as the
		// packets asked for fill at half a block's most, not 8 of them
		// (a block sent whole costs PostgreSQL ~7 µs a packet).
		first = min(firstBlockPage, q.r.n/(maxBlockPackets/2)+2)
	}
	page := q.nextPage(first)
	wholeWindow := false // the last day-bounded page was empty: a gap; the next page finds where blocks resume
	for !q.done && limit != 0 {
		if limit > 0 {
			page = min(page, limit)
		}
		var p params
		cond := q.window(&p)
		dayEnd, bounded := q.walkDayEnd()
		bounded = bounded && !wholeWindow
		if bounded {
			cond += ` AND b.first_at < ` + p.time(dayEnd)
		}
		if q.r.full() {
			// Only a block that starts by the n-th packet found can hold
			// an earlier one; PostgreSQL builds a page whole, so it is told.
			cond += ` AND b.first_at <= ` + p.time(q.r.nth())
		}
		sql := `SELECT b.first_at, b.first_id, b.format, CASE WHEN ` + q.hit(&p) + ` THEN ` + q.packets(&p) + ` END
			FROM packet_blocks b WHERE ` + cond + ` ORDER BY b.first_at, b.first_id LIMIT ` + strconv.Itoa(page)
		read, err := q.read(ctx, sql, &p)
		if err != nil {
			return err
		}
		if limit > 0 {
			limit -= read
		}
		wholeWindow = bounded && read == 0
		if read < page && !q.done {
			if !bounded || q.r.full() && q.r.nth().Before(dayEnd) {
				q.done = true // no later block can hold a packet asked for
			} else if q.after == nil || q.after.at.Before(dayEnd) {
				// The rest of the day is read: on from the next.
				k := blockKey{at: dayEnd.Add(-time.Microsecond), id: math.MaxInt64}
				q.after = &k
			}
		}
		page = q.nextPage(min(4*page, maxBlockPage))
	}
	return nil
}

// walkDayEnd is the end of the UTC day of the next block the walk may
// read, when the window ends later; ok is false when it does not, or has
// no end (a walk to the last stored block).
func (q *blockQuery) walkDayEnd() (end time.Time, ok bool) {
	if q.f.To.IsZero() {
		return time.Time{}, false
	}
	at := lowerBound(*q.f)
	if q.after != nil {
		at = q.after.at
	} else if !at.IsZero() {
		at = at.Add(-maxBlockSpan)
	}
	if at.IsZero() {
		return time.Time{}, false
	}
	end = at.UTC().Truncate(day).Add(day)
	return end, end.Before(q.f.To)
}

// nextPage is how many blocks the walk reads next: grown, at most to
// grown, yet no more than the matches still missing need at the rate found
// so far, with a quarter to spare. PostgreSQL builds a page whole even
// when the first blocks of it were enough: a full 512-block page cost
// status=486 ~15 ms of its ~20 when 10 blocks would have done.
func (q *blockQuery) nextPage(grown int) int {
	found, missing := len(q.r.pkts), q.r.n-len(q.r.pkts)
	switch {
	case q.blocksRead == 0 || found == 0:
		return grown
	case missing <= 0:
		return firstBlockPage // only blocks that start before the n-th match matter
	}
	return max(firstBlockPage, min(grown, q.blocksFor(q.blocksRead)))
}

// blocksFor is how many blocks the matches still missing need, at the
// matches found in the given number of blocks, with a quarter to spare.
func (q *blockQuery) blocksFor(blocks int) int {
	found, missing := len(q.r.pkts), q.r.n-len(q.r.pkts)
	return missing*blocks*5/(4*found) + 2
}

// lookup reads the blocks the term index names, in order: with slice 0
// from the whole window at once, else in slices of the window from sliceAt
// on, the first slice long, each next four times longer.
func (q *blockQuery) lookup(ctx context.Context, sliceAt time.Time, slice time.Duration) error {
	for !q.done {
		var p params
		cond := q.window(&p) + ` AND ` + q.hit(&p)
		var sliceEnd time.Time
		if slice > 0 {
			sliceEnd = sliceAt.Add(slice)
			end := q.f.To
			if end.IsZero() {
				end = time.Now() // and whatever an agent's clock put later
			}
			if !sliceEnd.Before(end) {
				slice = 0 // the last slice: the rest of the window
			} else {
				cond += ` AND b.first_at < ` + p.time(sliceEnd)
			}
		}
		// The fence keeps the planner from walking packet_blocks_first
		// under the LIMIT, testing every block of the window.
		sql := `WITH k AS MATERIALIZED (SELECT b.first_at, b.first_id FROM packet_blocks b WHERE ` + cond + `)
			SELECT first_at, first_id FROM k ORDER BY first_at, first_id LIMIT ` + strconv.Itoa(keysPage)
		var keys []blockKey
		err := each(ctx, q.conn.PgConn(), sql, &p, func(v [][]byte) error {
			at, ok := fromPGTime(v[0])
			if !ok || len(v[1]) != 8 {
				return errBadBlock
			}
			keys = append(keys, blockKey{at, int64(beUint64(v[1]))})
			return nil
		})
		if err != nil {
			return err
		}
		if err := q.readKeys(ctx, keys); err != nil {
			return err
		}
		if len(keys) == keysPage {
			continue // the rest of this slice, after the last block read
		}
		if slice == 0 {
			return nil
		}
		if q.after == nil || q.after.at.Before(sliceEnd) {
			// The next slice starts at sliceEnd; q.after may lie before it.
			k := blockKey{at: sliceEnd.Add(-time.Microsecond), id: math.MaxInt64}
			q.after = &k
		}
		sliceAt, slice = sliceEnd, 4*slice
	}
	return nil
}

// readKeys reads the blocks of keys, in their order, in pages of keysPage,
// until no later block can matter.
func (q *blockQuery) readKeys(ctx context.Context, keys []blockKey) error {
	page := 0
	for len(keys) > 0 && !q.done {
		page = q.keysPage(page)
		k := keys[:min(page, len(keys))]
		keys = keys[len(k):]
		if q.r.full() && k[0].at.After(q.r.nth()) {
			q.done = true
			return nil
		}
		ats, ids := make([]time.Time, len(k)), make([]int64, len(k))
		for i := range k {
			ats[i], ids[i] = k[i].at, k[i].id
		}
		var p params
		sql := `SELECT b.first_at, b.first_id, b.format, ` + q.packets(&p) + `
			FROM unnest(` + p.times(ats) + `, ` + p.int8s(ids) + `) AS k(at, id)
			JOIN packet_blocks b ON b.first_at = k.at AND b.first_id = k.id
			WHERE b.first_at >= ` + p.time(ats[0]) + ` AND b.first_at <= ` + p.time(ats[len(ats)-1]) + `
			ORDER BY b.first_at, b.first_id`
		if _, err := q.read(ctx, sql, &p); err != nil {
			return err
		}
	}
	return nil
}

// keysPage is how many of the blocks the term index named readKeys reads
// next, last being the page before (0: none yet): as many as the matches
// still missing need at the matches a block that held one gave so far,
// with a quarter to spare, and at least four times the last page; with
// nothing found yet, firstBlockPage, then four times the last. A page read
// in one statement, not 8 blocks, then 32, then 128: each statement costs
// its planning and a round trip (status=503 read its first slice's ~40
// blocks in three).
func (q *blockQuery) keysPage(last int) int {
	grown := firstBlockPage
	if last > 0 {
		grown = min(4*last, maxBlockPage)
	}
	if q.blocksHit == 0 || len(q.r.pkts) == 0 || len(q.r.pkts) >= q.r.n {
		return grown
	}
	return max(grown, min(maxBlockPage, q.blocksFor(q.blocksHit)))
}

// read decodes the blocks sql returns (first_at, first_id, format,
// packets; packets NULL for a block that holds no match) into q.r and returns how
// many it read. It sets q.done at a block that starts after the n-th packet
// found: every later block starts later still.
func (q *blockQuery) read(ctx context.Context, sql string, p *params) (int, error) {
	read := 0
	err := each(ctx, q.conn.PgConn(), sql, p, func(v [][]byte) error {
		at, ok := fromPGTime(v[0])
		if !ok || len(v[1]) != 8 || len(v[2]) != 2 {
			return errBadBlock
		}
		key := blockKey{at, int64(beUint64(v[1]))}
		if q.r.full() && key.at.After(q.r.nth()) {
			q.done = true
			return errStop
		}
		read++
		q.blocksRead++
		q.after = &key
		if v[3] == nil {
			return nil // no match in it
		}
		q.blocksHit++
		return q.r.addBlock(int16(beUint16(v[2])), v[3])
	})
	if err == errStop {
		err = nil
	}
	return read, err
}
