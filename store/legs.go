package store

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
)

// Legs: a B2BUA gives the far side of a call a Call-ID of its own and ties
// it to the near side's with a correlation, HEP's correlation id (chunk
// 0x0011) or a correlating header (X-CID, ...). The legs of a call X are the
// Call-IDs in one group with X, where a Call-ID joins the group of every
// value its packets carry as a correlation, and a Call-ID is itself such a
// value: so the Call-IDs whose packets name X, the Call-ID X's packets name,
// the Call-IDs that share a correlation with X (an icid-value), and so on
// from those.
//
// The group is found a step at a time, one query per step for a whole page
// of calls: the term index names the blocks that hold any of the values new
// at this step, as a correlation or (for a value not yet known as a read
// Call-ID) as a Call-ID, and PostgreSQL sends back each distinct (Call-ID,
// correlations) of their packets with its time span, not the packets.
// Bounds: MaxLegs Call-IDs a group, maxLegSteps steps, and a leg's packets
// within the group's time span widened by legMargin on each side, so that
// a Call-ID or a correlation used again days later joins nothing.
const (
	MaxLegs     = 16
	maxLegSteps = 4
	legMargin   = time.Minute
	// maxLegRows caps what one step reads back: a value shared by a great
	// many packets (a constant X-CID) must not turn a listing into a scan.
	maxLegRows = 4096
)

// legSeed is what a call's own packets say about its legs: its time span
// and the correlations they carry.
type legSeed struct {
	id     string
	lo, hi time.Time
	values []string
}

// seedOf reads a call's seed from its packets, which are in order.
func seedOf(id string, pkts []hepvault.Packet) legSeed {
	s := legSeed{id: id}
	if len(pkts) == 0 {
		return s
	}
	s.lo, s.hi = pkts[0].CapturedAt, pkts[len(pkts)-1].CapturedAt
	for i := range pkts {
		for _, v := range [...]string{pkts[i].CorrelationID, pkts[i].CorrelationHeader} {
			if v = cleanText(v); v != "" && !slices.Contains(s.values, v) {
				s.values = append(s.values, v)
			}
		}
	}
	return s
}

// legGroups is a union-find over values (Call-IDs and correlations).
type legGroups struct {
	parent map[string]string
	calls  map[string]*legCall // the values known to be Call-IDs
	read   map[string]bool     // Call-IDs whose packets were all read (seeds)
	size   map[string]int      // Call-IDs of a group, by root
	lo, hi map[string]time.Time
}

type legCall struct {
	first time.Time // its first packet seen
}

func newLegGroups() *legGroups {
	return &legGroups{parent: map[string]string{}, calls: map[string]*legCall{}, read: map[string]bool{},
		size: map[string]int{}, lo: map[string]time.Time{}, hi: map[string]time.Time{}}
}

// add makes v a value of its own group when it is new, and reports whether
// it was.
func (g *legGroups) add(v string) bool {
	if _, ok := g.parent[v]; ok {
		return false
	}
	g.parent[v] = v
	return true
}

func (g *legGroups) root(v string) string {
	for g.parent[v] != v {
		g.parent[v] = g.parent[g.parent[v]]
		v = g.parent[v]
	}
	return v
}

// union joins the groups of a and b (both added) unless the group would
// hold more than MaxLegs+1 Call-IDs; it reports whether they are one.
func (g *legGroups) union(a, b string) bool {
	ra, rb := g.root(a), g.root(b)
	if ra == rb {
		return true
	}
	if g.size[ra]+g.size[rb] > MaxLegs+1 {
		return false
	}
	g.parent[rb] = ra
	g.size[ra] += g.size[rb]
	g.widen(ra, g.lo[rb], g.hi[rb])
	delete(g.size, rb)
	delete(g.lo, rb)
	delete(g.hi, rb)
	return true
}

// widen makes root's span hold [lo, hi].
func (g *legGroups) widen(root string, lo, hi time.Time) {
	if lo.IsZero() {
		return
	}
	if cur, ok := g.lo[root]; !ok || lo.Before(cur) {
		g.lo[root] = lo
	}
	if cur, ok := g.hi[root]; !ok || hi.After(cur) {
		g.hi[root] = hi
	}
}

// call records v as a Call-ID first seen at first.
func (g *legGroups) call(v string, first time.Time) {
	g.add(v)
	if c, ok := g.calls[v]; ok {
		if first.Before(c.first) {
			c.first = first
		}
		return
	}
	g.calls[v] = &legCall{first: first}
	g.size[g.root(v)]++
}

// legRow is one distinct (Call-ID, correlations) of the packets a step
// found, with their time span.
type legRow struct {
	callID, corrID, corrHeader string
	lo, hi                     time.Time
}

// legsOf returns the legs of each call of seeds, by Call-ID: the other
// Call-IDs of its group, in the order their first packets were captured.
func (db *DB) legsOf(ctx context.Context, seeds []legSeed) (map[string][]string, error) {
	g := newLegGroups()
	var fresh []string // values not asked about yet
	note := func(v string) {
		if v != "" && g.add(v) {
			fresh = append(fresh, v)
		}
	}
	for _, s := range seeds {
		if s.id == "" || s.lo.IsZero() {
			continue
		}
		note(s.id)
		g.call(s.id, s.lo)
		g.read[s.id] = true
		g.widen(g.root(s.id), s.lo, s.hi)
		for _, v := range s.values {
			note(v)
			g.union(s.id, v)
		}
	}
	for step := 0; step < maxLegSteps && len(fresh) > 0; step++ {
		var corr, ids []string
		var lo, hi time.Time
		for _, v := range fresh {
			r := g.root(v)
			if g.size[r] > MaxLegs {
				continue // full
			}
			corr = append(corr, v)
			if !g.read[v] {
				ids = append(ids, v)
			}
			if l := g.lo[r]; !l.IsZero() && (lo.IsZero() || l.Before(lo)) {
				lo = l
			}
			if h := g.hi[r]; h.After(hi) {
				hi = h
			}
		}
		fresh = fresh[:0]
		if len(corr) == 0 || lo.IsZero() {
			break
		}
		rows, err := db.legRows(ctx, corr, ids, lo.Add(-legMargin), hi.Add(legMargin))
		if err != nil {
			return nil, err
		}
		for _, v := range ids {
			g.read[v] = true // its packets of the span are among rows now
		}
		for _, r := range rows {
			// The group the row joins: that of any value of it known
			// before this step; its time must lie within that group's span.
			var at string
			for _, v := range [...]string{r.callID, r.corrID, r.corrHeader} {
				if _, ok := g.parent[v]; ok && v != "" {
					at = g.root(v)
					break
				}
			}
			if at == "" || r.hi.Before(g.lo[at].Add(-legMargin)) || r.lo.After(g.hi[at].Add(legMargin)) {
				continue
			}
			isNew := g.add(r.callID)
			g.call(r.callID, r.lo)
			if !g.union(at, r.callID) {
				continue // the group is full
			}
			if isNew {
				fresh = append(fresh, r.callID)
			}
			g.widen(g.root(at), r.lo, r.hi)
			for _, v := range [...]string{r.corrID, r.corrHeader} {
				if v == "" {
					continue
				}
				isNew := g.add(v)
				if g.union(at, v) && isNew {
					fresh = append(fresh, v)
				}
			}
		}
	}
	byRoot := map[string][]string{}
	for id := range g.calls {
		r := g.root(id)
		byRoot[r] = append(byRoot[r], id)
	}
	out := make(map[string][]string, len(seeds))
	for _, s := range seeds {
		if _, ok := g.parent[s.id]; !ok {
			continue
		}
		var legs []string
		for _, id := range byRoot[g.root(s.id)] {
			if id != s.id {
				legs = append(legs, id)
			}
		}
		slices.SortFunc(legs, func(a, b string) int {
			if c := g.calls[a].first.Compare(g.calls[b].first); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		out[s.id] = legs
	}
	return out, nil
}

// legRows asks for the distinct (Call-ID, correlations) of the packets
// captured in [lo, hi] that carry one of corr as a correlation or one of
// ids as their Call-ID.
func (db *DB) legRows(ctx context.Context, corr, ids []string, lo, hi time.Time) ([]legRow, error) {
	terms := make([]int32, 0, len(corr)+len(ids))
	for _, v := range corr {
		terms = append(terms, termHash(termCorrelationID, v))
	}
	for _, v := range ids {
		terms = append(terms, termHash(termCallID, v))
	}
	slices.Sort(terms)
	terms = slices.Compact(terms)
	lo, hi = floorMicro(lo), floorMicro(hi).Add(time.Microsecond)
	// The terms behind a subquery: as a constant, hundreds of rare terms
	// look to the planner like most of the table (see blockQuery.hit).
	rows, err := db.pool.Query(ctx, `SELECT p.call_id, p.correlation_id, p.correlation_header,
			min(p.captured_at), max(p.captured_at)
		FROM packet_blocks b, LATERAL unnest(b.packets) AS p
		WHERE b.first_at >= $1::timestamptz - interval '4 seconds' AND b.first_at < $2 AND b.last_at >= $1
		  AND b.terms && (SELECT $3::int4[])
		  AND p.captured_at >= $1 AND p.captured_at < $2 AND p.call_id IS NOT NULL
		  AND (p.correlation_id = ANY($4) OR p.correlation_header = ANY($4) OR p.call_id = ANY($5))
		GROUP BY 1, 2, 3
		LIMIT `+strconv.Itoa(maxLegRows), lo, hi, terms, corr, ids)
	if err != nil {
		return nil, interpretError("query legs", err)
	}
	defer rows.Close()
	var out []legRow
	for rows.Next() {
		var r legRow
		var corrID, corrHeader *string
		if err := rows.Scan(&r.callID, &corrID, &corrHeader, &r.lo, &r.hi); err != nil {
			return nil, interpretError("query legs", err)
		}
		if corrID != nil {
			r.corrID = *corrID
		}
		if corrHeader != nil {
			r.corrHeader = *corrHeader
		}
		out = append(out, r)
	}
	return out, interpretError("query legs", rows.Err())
}
