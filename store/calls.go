package store

import (
	"context"
	"slices"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/callflow"
)

// MaxCallsLimit caps how many calls one Calls returns.
const MaxCallsLimit = 1000

// CallFilter selects calls: the packet filter applies to a call's first
// request (the request, without a To tag, that started the call: its
// time, users, addresses, method and capture id), the rest to its summary.
type CallFilter struct {
	// From, To, Methods, users, IPs and CaptureIDs select the first
	// request; After resumes after the call that started at that position;
	// Limit is how many calls to return (1..MaxCallsLimit, else 100).
	hepvault.Filter
	States   []callflow.State
	Statuses []int // final status; 0 lists calls with none
}

// CallsPage is one page of calls and where the next one starts.
type CallsPage struct {
	Calls []callflow.Call
	// Next is the position of the last call's first request when more
	// calls may follow; nil at the window's end.
	Next *hepvault.Position
}

// callStart is a Call-ID and the position of its first request seen.
type callStart struct {
	id  string
	pos hepvault.Position
}

// Calls lists the calls whose first request lies in f's window and that
// f selects, in the order they started.
//
// It walks the window's requests (through the term index when f names a
// user, address or method), keeps each Call-ID the first time a request
// without a To tag starts it (RFC 3261 §12.1.1), then reads every packet of
// a batch of those Call-IDs at once, whenever captured, with one lookup in
// the term index. A call some packet of which lies before the window (or
// whose first request is not the one that selected it) started earlier and
// is left out; a call that spans midnight is read whole. The legs of the
// page's calls are found together (legs.go), a query a step.
func (db *DB) Calls(ctx context.Context, f CallFilter) (CallsPage, error) {
	if err := db.errNotReady(); err != nil {
		return CallsPage{}, err
	}
	page, seeds, err := db.calls(ctx, f)
	if err != nil || len(page.Calls) == 0 {
		return page, err
	}
	legs, err := db.legsOf(ctx, seeds)
	if err != nil {
		return CallsPage{}, err
	}
	for i := range page.Calls {
		page.Calls[i].Legs = legs[page.Calls[i].CallID]
	}
	return page, nil
}

// calls is Calls without the legs, and the seeds of the legs of the calls
// it lists.
func (db *DB) calls(ctx context.Context, f CallFilter) (CallsPage, []legSeed, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxCallsLimit {
		limit = 100
	}
	reqs := f.Filter
	reqs.Kinds = []hepvault.Kind{hepvault.KindRequest}
	seen := map[string]bool{}
	var page CallsPage
	var seeds []legSeed
	var last hepvault.Position // the start of the last call listed
	var pending []callStart    // calls found, not yet read
	walked := false            // no request of the window is left to read
	read := 0                  // calls read so far
	for {
		need := limit - len(page.Calls)
		// Read the calls a few more than needed at a time: a call that
		// started earlier is dropped, rarely. When a state or status
		// filter drops many, read as many more as the share kept so far
		// says are needed.
		chunk := need + need/16 + 4
		switch {
		case read > 0 && len(page.Calls) == 0:
			chunk = min(MaxCallsLimit, 4*read)
		case read > 0:
			chunk = min(MaxCallsLimit, max(chunk, need*read/len(page.Calls)+need/16+4))
		}
		for len(pending) < chunk && !walked {
			// A call is mostly 1 to 4 requests (INVITE, ACK, BYE, or a
			// REGISTER again with credentials).
			batch := min(MaxLimit, 2*chunk+16)
			pkts, err := db.find(ctx, reqs, batch+1)
			if err != nil {
				return CallsPage{}, nil, err
			}
			if len(pkts) <= batch {
				walked = true
			} else {
				pkts = pkts[:batch]
				end := pkts[len(pkts)-1]
				reqs.After = &hepvault.Position{CapturedAt: end.CapturedAt, ID: end.ID}
			}
			for i := range pkts {
				p := &pkts[i]
				if p.ToTag != "" || p.CallID == "" || seen[p.CallID] {
					continue
				}
				seen[p.CallID] = true
				pending = append(pending, callStart{p.CallID, hepvault.Position{CapturedAt: p.CapturedAt, ID: p.ID}})
			}
		}
		starts := pending[:min(chunk, len(pending))]
		pending = pending[len(starts):]
		read += len(starts)
		calls, cseeds, err := db.callsOf(ctx, starts, &f)
		if err != nil {
			return CallsPage{}, nil, err
		}
		for i, c := range calls {
			if c == nil {
				continue
			}
			if len(page.Calls) == limit {
				page.Next = &last
				return page, seeds, nil
			}
			page.Calls = append(page.Calls, *c)
			seeds = append(seeds, cseeds[i])
			last = starts[i].pos
		}
		if walked && len(pending) == 0 {
			return page, seeds, nil
		}
		if len(page.Calls) == limit {
			page.Next = &last // more may follow, or none: the next page says
			return page, seeds, nil
		}
	}
}

// callsOf reads every packet of the calls of starts and summarizes them,
// with the seed of each one's legs; nil for a call f does not list.
func (db *DB) callsOf(ctx context.Context, starts []callStart, f *CallFilter) ([]*callflow.Call, []legSeed, error) {
	if len(starts) == 0 {
		return nil, nil, nil
	}
	ids := make([]string, len(starts))
	for i, s := range starts {
		ids[i] = s.id
	}
	pkts, err := db.packetsOfCalls(ctx, ids, len(starts)*MaxLimit)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string][]hepvault.Packet, len(starts))
	for _, p := range pkts {
		byID[p.CallID] = append(byID[p.CallID], p)
	}
	out := make([]*callflow.Call, len(starts))
	seeds := make([]legSeed, len(starts))
	for i, s := range starts {
		pkts := byID[s.id]
		if len(pkts) == 0 || !f.From.IsZero() && pkts[0].CapturedAt.Before(f.From) {
			continue // started before the window
		}
		if first := firstRequest(pkts); first == nil || first.ID != s.pos.ID || !first.CapturedAt.Equal(s.pos.CapturedAt) {
			continue // an earlier request, which f does not select, started it
		}
		c := callflow.Summarize(pkts)
		if len(f.States) > 0 && !slices.Contains(f.States, c.State) ||
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, c.FinalStatus) {
			continue
		}
		out[i] = &c
		seeds[i] = seedOf(s.id, pkts)
	}
	return out, seeds, nil
}

// packetsOfCalls reads every packet of the Call-IDs ids, whenever captured,
// up to n, in order: one query for every block that holds one of them.
func (db *DB) packetsOfCalls(ctx context.Context, ids []string, n int) ([]hepvault.Packet, error) {
	set := make(map[string]struct{}, len(ids))
	terms := make([]int32, 0, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
		terms = append(terms, termHash(termCallID, cleanText(id)))
	}
	slices.Sort(terms)
	terms = slices.Compact(terms)
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, interpretError("query calls", err)
	}
	defer c.Release()
	var all hepvault.Filter
	q := blockQuery{conn: c.Conn(), f: &all, groups: [][]int32{terms}, callIDs: set,
		r: result{n: n, f: &all, sorted: true, callIDs: set}}
	// Blocks in no order: result sorts them.
	var p params
	sql := `SELECT b.first_at, b.first_id, b.format, ` + q.packets(&p) + ` FROM packet_blocks b WHERE ` + q.hit(&p)
	if _, err := q.read(ctx, sql, &p); err != nil {
		return nil, interpretError("query calls", err)
	}
	return q.r.final(), nil
}

// CallLegs returns the packets of one Call-ID, as Call does, and the
// Call-IDs of its other legs (legs.go) in the order they began; with
// legPackets, the packets returned are those of every leg, in capture
// order, up to MaxLimit.
func (db *DB) CallLegs(ctx context.Context, callID string, legPackets bool) ([]hepvault.Packet, []string, error) {
	pkts, err := db.Call(ctx, callID)
	if err != nil || len(pkts) == 0 {
		return pkts, []string{}, err
	}
	legs, err := db.legsOf(ctx, []legSeed{seedOf(callID, pkts)})
	if err != nil {
		return nil, nil, err
	}
	ls := legs[callID]
	if ls == nil {
		ls = []string{}
	}
	if !legPackets || len(ls) == 0 {
		return pkts, ls, nil
	}
	all, err := db.packetsOfCalls(ctx, append([]string{callID}, ls...), MaxLimit)
	if err != nil {
		return nil, nil, err
	}
	return all, ls, nil
}

// firstRequest is the first request of pkts, which are in order.
func firstRequest(pkts []hepvault.Packet) *hepvault.Packet {
	for i := range pkts {
		if pkts[i].Kind == hepvault.KindRequest {
			return &pkts[i]
		}
	}
	return nil
}
