package store

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// Blocks are read in pages: a first page small enough for "the first 100
// packets of a window" to cost one short read, growing for long scans.
const (
	firstBlockPage = 8
	maxBlockPage   = 512
)

// find returns up to n packets that f selects, in (capture time, id) order.
// It reads the blocks that may hold such packets in order of their first
// packet and stops at the first block that starts after the n-th packet
// found: every later block starts later still.
func (db *DB) find(ctx context.Context, f hepvault.Filter, n int) ([]hepvault.Packet, error) {
	var q query
	if lo := lowerBound(f); !lo.IsZero() {
		lo = floorMicro(lo)
		q.add("first_at >= ?", lo.Add(-maxBlockSpan))
		q.add("last_at >= ?", lo)
	}
	if !f.To.IsZero() {
		q.add("first_at < ?", f.To)
	}
	if f.CallID != "" {
		q.add("calls @> ?", []int64{CallHash(cleanText(f.CallID))})
	}
	r := result{n: n, f: &f, sorted: true}
	page := firstBlockPage
	if f.CallID != "" {
		page = maxBlockPage // each page looks the call up in the index again
	}
	var after *blockKey
	for {
		pq := q
		pq.conds = slices.Clone(q.conds)
		pq.args = slices.Clone(q.args)
		if after != nil {
			pq.add("(first_at, first_id) > (?, ?)", after.at, after.id)
		}
		sql := `SELECT first_at, first_id, data FROM packet_blocks` + pq.clause()
		if f.CallID != "" {
			// A call's few blocks come from the GIN index. Asked for them in
			// order with a LIMIT, the planner walks the time index instead,
			// testing every block of the range; the fence keeps it off.
			sql = `WITH b AS MATERIALIZED (` + sql + `) SELECT * FROM b`
		}
		sql += ` ORDER BY first_at, first_id LIMIT ` + strconv.Itoa(page)
		read, done, err := db.readBlocks(ctx, sql, pq.args, &r, &after)
		if err != nil {
			return nil, err
		}
		if done || read < page {
			break
		}
		page = min(4*page, maxBlockPage)
	}
	return r.final(), nil
}

type blockKey struct {
	at time.Time
	id int64
}

// readBlocks decodes the blocks sql returns into r, remembering the last
// one read in after. done reports that no later block can matter.
func (db *DB) readBlocks(ctx context.Context, sql string, args []any, r *result, after **blockKey) (int, bool, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return 0, false, interpretError("query packets", err)
	}
	defer rows.Close()
	binary := rows.FieldDescriptions()[2].Format == pgx.BinaryFormatCode
	var (
		key  blockKey
		data []byte
		read int
	)
	for rows.Next() {
		if binary {
			// The block is decoded before the next row overwrites it;
			// kept packets copy what they need.
			if err := rows.Scan(&key.at, &key.id, nil); err != nil {
				return 0, false, interpretError("read packets", err)
			}
			data = rows.RawValues()[2]
		} else if err := rows.Scan(&key.at, &key.id, &data); err != nil {
			return 0, false, interpretError("read packets", err)
		}
		read++
		k := key
		*after = &k
		if r.full() && key.at.After(r.nth()) {
			return read, true, nil
		}
		if err := r.addBlock(data); err != nil {
			return 0, false, interpretError("read packets", err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, false, interpretError("read packets", err)
	}
	return read, false, nil
}

// query builds a WHERE clause whose values all travel as parameters.
type query struct {
	conds []string
	args  []any
}

func (q *query) add(cond string, vals ...any) {
	for _, v := range vals {
		q.args = append(q.args, v)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(q.args)), 1)
	}
	q.conds = append(q.conds, cond)
}

func (q *query) clause() string {
	if len(q.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.conds, " AND ")
}
