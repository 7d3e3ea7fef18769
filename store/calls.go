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
// is left out; a call that spans midnight is read whole.
func (db *DB) Calls(ctx context.Context, f CallFilter) (CallsPage, error) {
	if err := db.errNotReady(); err != nil {
		return CallsPage{}, err
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxCallsLimit {
		limit = 100
	}
	reqs := f.Filter
	reqs.Kinds = []hepvault.Kind{hepvault.KindRequest}
	seen := map[string]bool{}
	var page CallsPage
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
				return CallsPage{}, err
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
		calls, err := db.callsOf(ctx, starts, &f)
		if err != nil {
			return CallsPage{}, err
		}
		for i, c := range calls {
			if c == nil {
				continue
			}
			if len(page.Calls) == limit {
				page.Next = &last
				return page, nil
			}
			page.Calls = append(page.Calls, *c)
			last = starts[i].pos
		}
		if walked && len(pending) == 0 {
			return page, nil
		}
		if len(page.Calls) == limit {
			page.Next = &last // more may follow, or none: the next page says
			return page, nil
		}
	}
}

// callsOf reads every packet of the calls of starts and summarizes them;
// nil for a call f does not list.
func (db *DB) callsOf(ctx context.Context, starts []callStart, f *CallFilter) ([]*callflow.Call, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	ids := make(map[string]struct{}, len(starts))
	terms := make([]int32, 0, len(starts))
	for _, s := range starts {
		ids[s.id] = struct{}{}
		terms = append(terms, termHash(termCallID, cleanText(s.id)))
	}
	slices.Sort(terms)
	terms = slices.Compact(terms)
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, interpretError("query calls", err)
	}
	defer c.Release()
	var all hepvault.Filter
	q := blockQuery{conn: c.Conn(), f: &all, groups: [][]int32{terms}, callIDs: ids,
		r: result{n: len(starts) * MaxLimit, f: &all, sorted: true, callIDs: ids}}
	// One query: every block that holds one of the Call-IDs, in no order
	// (result sorts them), whenever captured.
	var p params
	sql := `SELECT b.first_at, b.first_id, b.format, ` + q.packets(&p) + ` FROM packet_blocks b WHERE ` + q.hit(&p)
	if _, err := q.read(ctx, sql, &p); err != nil {
		return nil, interpretError("query calls", err)
	}
	byID := make(map[string][]hepvault.Packet, len(starts))
	for _, p := range q.r.final() {
		byID[p.CallID] = append(byID[p.CallID], p)
	}
	out := make([]*callflow.Call, len(starts))
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
	}
	return out, nil
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
