package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Coverage answers whether a window's packets can be trusted to be all
// that the agents sent: from the packets themselves (per capture agent,
// its first and last packet and its silent gaps) and from hepvault's own
// record of the window (node_periods: when it ran, what it dropped, when
// it spooled, when the database was away).

// NodePeriod is one heartbeat of a serving process: what it did from
// Start to End.
type NodePeriod struct {
	Node       string
	Start, End time.Time
	// NextBy is when the node's next period is due: a node whose last
	// period ended before now is taken as running until then.
	NextBy     time.Time
	Drops      map[string]uint64 // packets dropped in the period, by reason
	Spooled    uint64            // packets written to the spool in the period
	SpoolBytes int64             // bytes in the spool at End
	DBDown     bool              // the database did not answer at some point of the period
}

// RecordNodePeriods stores periods; a period of the same node and start as
// one stored replaces it: a retry after a lost answer adds nothing, and the
// empty period a node opens with (so that it counts as running from its
// start) gives way to its first whole one.
func (db *DB) RecordNodePeriods(ctx context.Context, ps []NodePeriod) error {
	if err := db.errNotReady(); err != nil {
		return err
	}
	b := &pgx.Batch{}
	for _, p := range ps {
		reasons := make([]string, 0, len(p.Drops))
		for r, n := range p.Drops {
			if n > 0 {
				reasons = append(reasons, r)
			}
		}
		slices.Sort(reasons)
		counts := make([]int64, len(reasons))
		for i, r := range reasons {
			counts[i] = int64(p.Drops[r])
		}
		b.Queue(`INSERT INTO node_periods (node, started_at, ended_at, next_by, drop_reasons, drop_counts, spooled, spool_bytes, db_down)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (node, started_at) DO UPDATE SET ended_at = EXCLUDED.ended_at, next_by = EXCLUDED.next_by,
				drop_reasons = EXCLUDED.drop_reasons, drop_counts = EXCLUDED.drop_counts, spooled = EXCLUDED.spooled,
				spool_bytes = EXCLUDED.spool_bytes, db_down = EXCLUDED.db_down`,
			p.Node, p.Start, p.End, p.NextBy, reasons, counts, int64(p.Spooled), p.SpoolBytes, p.DBDown)
	}
	return interpretError("record node periods", db.pool.SendBatch(ctx, b).Close())
}

// DropAuditBefore deletes the node record and the access log older than t:
// they are kept as long as the statistics.
func (db *DB) DropAuditBefore(ctx context.Context, t time.Time) error {
	if err := db.errNotReady(); err != nil {
		return err
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM node_periods WHERE ended_at < $1`, t); err != nil {
		return interpretError("delete old node record", err)
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM access_log WHERE at < $1`, t)
	return interpretError("delete old access log", err)
}

// CoverageQuery asks for the coverage of [From, To).
type CoverageQuery struct {
	From, To time.Time
	// Gap: an agent with no packet for longer than this, between two of
	// its packets of the window, was silent.
	Gap time.Duration
	// Now bounds the window's end: what has not happened yet is not missing.
	Now time.Time
}

// Span is a stretch of time.
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// AgentCoverage is what one capture agent sent in the window.
type AgentCoverage struct {
	CaptureID uint32    `json:"capture_id"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	// Packets is counted in the statistics, over the whole minutes the
	// window touches.
	Packets int64  `json:"packets"`
	Gaps    []Span `json:"gaps"`
}

// DropSpan is what one node dropped for one reason over consecutive periods.
type DropSpan struct {
	Span
	Node    string `json:"node"`
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
}

// NodeSpan is a stretch of time of one node, with the packets it spooled
// or dropped meanwhile.
type NodeSpan struct {
	Span
	Node    string `json:"node"`
	Spooled uint64 `json:"spooled,omitempty"`
	Dropped uint64 `json:"dropped,omitempty"`
	// SpoolBytes is what the spool held at the span's end.
	SpoolBytes int64 `json:"spool_bytes,omitempty"`
}

// CoverageReason is one reason a window is not complete.
type CoverageReason struct {
	Span
	// Kind is not_running, dropped, database_down, spool_pending or
	// agent_silent.
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Coverage is the answer of Coverage.
type Coverage struct {
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Complete bool             `json:"complete"`
	Reasons  []CoverageReason `json:"reasons"`
	Agents   []AgentCoverage  `json:"agents"`
	Running  []NodeSpan       `json:"running"`
	Drops    []DropSpan       `json:"drops"`
	Spool    []NodeSpan       `json:"spool"`
	Outages  []NodeSpan       `json:"outages"`
}

// notLost are drop reasons that lose no SIP: a HEP payload of another
// type (RTCP, logs) has nothing to store.
var notLost = map[string]bool{"not_sip": true}

// Coverage reports, for the window q, each capture agent's packets and
// gaps, hepvault's own record, and whether the window is complete.
//
// Agents come from the statistics (dimension capture_id), and each one's
// packets from the blocks that hold its capture-id term (the term index):
// a gap is read between the blocks' edges, not between the agent's own
// packets, which would mean decoding every block. A block spans under four
// seconds and may hold other agents' packets, so a gap reported is at
// least as long as it says, and a silence shorter than Gap plus eight
// seconds may go unreported. The first and last packets are exact: only
// the first and last blocks are decoded.
//
// Drops, spooling and outages are as the nodes recorded them, in their
// wall-clock time, which a window of capture times is compared with.
func (db *DB) Coverage(ctx context.Context, q CoverageQuery) (Coverage, error) {
	if err := db.errNotReady(); err != nil {
		return Coverage{}, err
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	end := q.To
	if end.After(q.Now) {
		end = q.Now
	}
	cv := Coverage{From: q.From.UTC(), To: q.To.UTC(), Reasons: []CoverageReason{}, Agents: []AgentCoverage{},
		Running: []NodeSpan{}, Drops: []DropSpan{}, Spool: []NodeSpan{}, Outages: []NodeSpan{}}
	if err := db.coverAgents(ctx, q, &cv); err != nil {
		return cv, err
	}
	if end.After(q.From) {
		if err := db.coverNodes(ctx, q.From, end, q.Now, &cv); err != nil {
			return cv, err
		}
	}
	for _, a := range cv.Agents {
		for _, g := range a.Gaps {
			cv.Reasons = append(cv.Reasons, CoverageReason{Span: g, Kind: "agent_silent",
				Detail: fmt.Sprintf("capture agent %d sent nothing for %s", a.CaptureID, g.To.Sub(g.From).Round(time.Millisecond))})
		}
	}
	slices.SortStableFunc(cv.Reasons, func(a, b CoverageReason) int { return a.From.Compare(b.From) })
	cv.Complete = len(cv.Reasons) == 0
	return cv, nil
}

func (db *DB) coverAgents(ctx context.Context, q CoverageQuery, cv *Coverage) error {
	rows, err := db.pool.Query(ctx, `
		SELECT key, sum(count)::bigint FROM stats_minutes
		WHERE dim = 'capture_id' AND minute >= date_trunc('minute', $1::timestamptz) AND minute < $2
		GROUP BY key ORDER BY key`, q.From, q.To)
	if err != nil {
		return interpretError("coverage: agents", err)
	}
	type agent struct {
		id uint32
		n  int64
	}
	var agents []agent
	for rows.Next() {
		var key string
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return interpretError("coverage: agents", err)
		}
		id, err := strconv.ParseUint(key, 10, 32)
		if err != nil {
			continue // "other": not one agent
		}
		agents = append(agents, agent{uint32(id), n})
	}
	if err := rows.Err(); err != nil {
		return interpretError("coverage: agents", err)
	}
	slices.SortFunc(agents, func(a, b agent) int { return int(int64(a.id) - int64(b.id)) })
	for _, a := range agents {
		ac, found, err := db.coverAgent(ctx, q, a.id)
		if err != nil {
			return err
		}
		if !found {
			continue // counted in a minute the window touches, but outside it
		}
		ac.Packets = a.n
		cv.Agents = append(cv.Agents, ac)
	}
	return nil
}

type blockEdge struct {
	firstAt, lastAt time.Time
	firstID         int64
}

func (db *DB) coverAgent(ctx context.Context, q CoverageQuery, id uint32) (AgentCoverage, bool, error) {
	ac := AgentCoverage{CaptureID: id, Gaps: []Span{}}
	term := numTerm(termCaptureID, uint64(id))
	rows, err := db.pool.Query(ctx, `
		SELECT first_at, last_at, first_id FROM packet_blocks
		WHERE terms @> ARRAY[$1::int4] AND first_at >= $2::timestamptz - interval '4 seconds' AND first_at < $3 AND last_at >= $2
		ORDER BY first_at, first_id`, term, q.From, q.To)
	if err != nil {
		return ac, false, interpretError("coverage: blocks of an agent", err)
	}
	var blocks []blockEdge
	for rows.Next() {
		var b blockEdge
		if err := rows.Scan(&b.firstAt, &b.lastAt, &b.firstID); err != nil {
			return ac, false, interpretError("coverage: blocks of an agent", err)
		}
		blocks = append(blocks, b)
	}
	if err := rows.Err(); err != nil {
		return ac, false, interpretError("coverage: blocks of an agent", err)
	}
	if len(blocks) == 0 {
		return ac, false, nil
	}
	var first, last *time.Time
	edge := `SELECT %s(p.captured_at) FROM packet_blocks b, LATERAL unnest(b.packets) p
		WHERE b.first_at = $1 AND b.first_id = $2 AND p.capture_id = $3 AND p.captured_at >= $4 AND p.captured_at < $5`
	// The first block may hold none of the agent's packets of the window
	// (they lie before From), so the edges are looked for from each end.
	for i := 0; i < len(blocks) && first == nil; i++ {
		if err := db.pool.QueryRow(ctx, fmt.Sprintf(edge, "min"), blocks[i].firstAt, blocks[i].firstID, int64(id), q.From, q.To).Scan(&first); err != nil {
			return ac, false, interpretError("coverage: first packet of an agent", err)
		}
	}
	for i := len(blocks) - 1; i >= 0 && last == nil; i-- {
		if err := db.pool.QueryRow(ctx, fmt.Sprintf(edge, "max"), blocks[i].firstAt, blocks[i].firstID, int64(id), q.From, q.To).Scan(&last); err != nil {
			return ac, false, interpretError("coverage: last packet of an agent", err)
		}
	}
	if first == nil || last == nil {
		return ac, false, nil
	}
	ac.First, ac.Last = first.UTC(), last.UTC()
	ac.Gaps = blockGaps(blocks, ac.First, ac.Last, q.Gap)
	return ac, true, nil
}

// blockGaps finds the stretches longer than gap within [first, last] that
// no block of the agent covers; blocks are in first_at order.
func blockGaps(blocks []blockEdge, first, last time.Time, gap time.Duration) []Span {
	out := []Span{}
	if gap <= 0 {
		return out
	}
	reach := first
	for _, b := range blocks {
		start := b.firstAt
		if start.After(last) {
			start = last
		}
		if start.Sub(reach) > gap {
			out = append(out, Span{From: reach.UTC(), To: start.UTC()})
		}
		if b.lastAt.After(reach) {
			reach = b.lastAt
		}
	}
	return out
}

func (db *DB) coverNodes(ctx context.Context, from, end, now time.Time, cv *Coverage) error {
	rows, err := db.pool.Query(ctx, `
		SELECT node, started_at, ended_at, next_by, drop_reasons, drop_counts, spooled, spool_bytes, db_down
		FROM node_periods WHERE next_by > $1 AND started_at < $2
		ORDER BY node, started_at`, from, end)
	if err != nil {
		return interpretError("coverage: node record", err)
	}
	var ps []NodePeriod
	for rows.Next() {
		var p NodePeriod
		var reasons []string
		var counts []int64
		var spooled int64
		if err := rows.Scan(&p.Node, &p.Start, &p.End, &p.NextBy, &reasons, &counts, &spooled, &p.SpoolBytes, &p.DBDown); err != nil {
			return interpretError("coverage: node record", err)
		}
		p.Spooled = uint64(spooled)
		p.Drops = map[string]uint64{}
		for i, r := range reasons {
			if i < len(counts) {
				p.Drops[r] = uint64(counts[i])
			}
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return interpretError("coverage: node record", err)
	}
	foldNodePeriods(ps, from, end, now, cv)
	return nil
}

// foldNodePeriods turns the node record (periods in node, start order)
// into the spans of cv and the reasons they give, within [from, end).
func foldNodePeriods(ps []NodePeriod, from, end, now time.Time, cv *Coverage) {
	clip := func(s Span) (Span, bool) {
		if s.From.Before(from) {
			s.From = from
		}
		if s.To.After(end) {
			s.To = end
		}
		s.From, s.To = s.From.UTC(), s.To.UTC()
		return s, s.To.After(s.From)
	}
	// appendSpan extends the last span of the node when this one follows
	// it without a break, else starts a new one.
	appendSpan := func(spans []NodeSpan, node string, s Span, spooled, dropped uint64, spoolBytes int64) []NodeSpan {
		if n := len(spans); n > 0 && spans[n-1].Node == node && !s.From.After(spans[n-1].To) {
			l := &spans[n-1]
			if s.To.After(l.To) {
				l.To = s.To
			}
			l.Spooled += spooled
			l.Dropped += dropped
			l.SpoolBytes = spoolBytes
			return spans
		}
		return append(spans, NodeSpan{Span: s, Node: node, Spooled: spooled, Dropped: dropped, SpoolBytes: spoolBytes})
	}
	drops := map[[2]string]*DropSpan{}
	var dropOrder [][2]string
	for i, p := range ps {
		span := Span{From: p.Start, To: p.End}
		if i == len(ps)-1 || ps[i+1].Node != p.Node {
			// The node's last period: while its next one is not due yet, it
			// runs still; past that, it stopped (or crashed) after End.
			if p.NextBy.After(now) && now.After(span.To) {
				span.To = now
			}
		}
		s, ok := clip(span)
		if !ok {
			continue
		}
		var lost uint64
		for r, n := range p.Drops {
			if notLost[r] || n == 0 {
				continue
			}
			lost += n
			k := [2]string{p.Node, r}
			ds, seen := drops[k]
			if !seen || s.From.After(ds.To) {
				if seen {
					cv.Drops = append(cv.Drops, *ds)
				} else {
					dropOrder = append(dropOrder, k)
				}
				drops[k] = &DropSpan{Span: s, Node: p.Node, Reason: r, Packets: n}
				continue
			}
			ds.To = s.To
			ds.Packets += n
		}
		cv.Running = appendSpan(cv.Running, p.Node, s, 0, 0, 0)
		if p.Spooled > 0 || p.SpoolBytes > 0 {
			cv.Spool = appendSpan(cv.Spool, p.Node, s, p.Spooled, 0, p.SpoolBytes)
		}
		if p.DBDown {
			cv.Outages = appendSpan(cv.Outages, p.Node, s, p.Spooled, lost, 0)
		}
	}
	for _, k := range dropOrder {
		cv.Drops = append(cv.Drops, *drops[k])
	}
	slices.SortStableFunc(cv.Drops, func(a, b DropSpan) int { return a.From.Compare(b.From) })

	// Not running: what no node's span covers.
	all := make([]Span, 0, len(cv.Running))
	for _, r := range cv.Running {
		all = append(all, r.Span)
	}
	slices.SortFunc(all, func(a, b Span) int { return a.From.Compare(b.From) })
	reach := from.UTC()
	for _, s := range all {
		if s.From.After(reach) {
			cv.Reasons = append(cv.Reasons, CoverageReason{Span: Span{reach, s.From}, Kind: "not_running",
				Detail: "no hepvault was running (no packet could be received)"})
		}
		if s.To.After(reach) {
			reach = s.To
		}
	}
	if end.After(reach) {
		cv.Reasons = append(cv.Reasons, CoverageReason{Span: Span{reach, end.UTC()}, Kind: "not_running",
			Detail: "no hepvault was running (no packet could be received)"})
	}
	for _, d := range cv.Drops {
		cv.Reasons = append(cv.Reasons, CoverageReason{Span: d.Span, Kind: "dropped",
			Detail: fmt.Sprintf("%s dropped %d packets (%s)", d.Node, d.Packets, d.Reason)})
	}
	// An outage the spool took whole lost nothing: it is in Outages, not
	// a reason.
	for _, o := range cv.Outages {
		if o.Dropped > 0 {
			cv.Reasons = append(cv.Reasons, CoverageReason{Span: o.Span, Kind: "database_down",
				Detail: fmt.Sprintf("the database did not answer %s; %d packets lost meanwhile, %d spooled", o.Node, o.Dropped, o.Spooled)})
		}
	}
	// A spool that still held packets when its node last reported: they
	// are not in the database yet.
	last := map[string]NodePeriod{}
	for _, p := range ps {
		last[p.Node] = p
	}
	for _, s := range cv.Spool {
		if p := last[s.Node]; p.SpoolBytes > 0 {
			cv.Reasons = append(cv.Reasons, CoverageReason{Span: s.Span, Kind: "spool_pending",
				Detail: fmt.Sprintf("%s's spool held %d bytes when it last reported: not in the database yet", s.Node, p.SpoolBytes)})
		}
	}
}
