package main

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/hepvault/hepvault/internal/livetest"
)

// liveCall is what the wire says of one Call-ID, read from tshark's
// dissection by the rules of callflow.Summarize's doc comment (the
// scenarios have no challenge and no re-INVITE: the deciding transaction
// is the highest CSeq of the first request's method).
type liveCall struct {
	method, state string
	final         int
	pddMs, durS   float64 // NaN when the wire has none
}

func wireCall(msgs []livetest.Message) liveCall {
	msgs = slices.Clone(msgs)
	slices.SortStableFunc(msgs, func(a, b livetest.Message) int { return a.Time.Compare(b.Time) })
	c := liveCall{state: "in_progress", pddMs: math.NaN(), durS: math.NaN()}
	var invite, ring, ok, fail, cancel *livetest.Message
	var top uint32
	for i := range msgs {
		if m := &msgs[i]; m.IsRequest() && c.method == "" {
			c.method = m.Method
		}
		if m := &msgs[i]; m.Method == c.method && m.CSeq > top {
			top = m.CSeq
		}
	}
	for i := range msgs {
		m := &msgs[i]
		switch {
		case m.CSeq != top:
		case m.Method == c.method && invite == nil:
			invite = m
		case m.Method == "CANCEL" && cancel == nil:
			cancel = m
		case m.IsRequest() || m.CSeqMethod != c.method:
		case (m.Status == 180 || m.Status == 183) && ring == nil:
			ring = m
		case m.Status/100 == 2 && ok == nil:
			ok = m
		case m.Status >= 300:
			fail = m
		}
	}
	if ok != nil {
		c.final = ok.Status
	} else if fail != nil {
		c.final = fail.Status
	}
	switch {
	case c.method != "INVITE" && ok != nil && c.method == "REGISTER":
		c.state = "registered"
	case c.method != "INVITE" && ok != nil:
		c.state = "completed"
	case fail != nil && c.method != "INVITE":
		c.state = "failed"
	case c.method != "INVITE":
	case ok != nil:
		c.state = "answered"
		for _, m := range msgs {
			if m.Method == "BYE" {
				c.durS = m.Time.Sub(ok.Time).Seconds()
				break
			}
		}
	case fail != nil && (fail.Status == 487 || cancel != nil):
		c.state = "cancelled"
	case fail != nil && (fail.Status == 486 || fail.Status == 600):
		c.state = "busy"
	case fail != nil && (fail.Status == 408 || fail.Status == 480):
		c.state = "no_answer"
	case fail != nil:
		c.state = "failed"
	case cancel != nil:
		c.state = "cancelled"
	}
	if c.method == "INVITE" && ring != nil && invite != nil {
		c.pddMs = float64(ring.Time.Sub(invite.Time).Microseconds()) / 1e3
	}
	return c
}

// checkCalls asks `hepvault calls show --json` for every Call-ID of the
// run and compares it with the wire. Times are HEP times, which Kamailio
// stamps a little after a message arrives and a little before it leaves:
// PDD and duration agree with the wire's to within the scheduling delays
// of a loaded machine: a millisecond when idle, several while the rest of
// the suite runs beside Kamailio (CI once saw more than one), so 25 ms.
func checkCalls(t *testing.T, s *server, wire []livetest.Message) {
	t.Helper()
	byCall := map[string][]livetest.Message{}
	var order []string
	for _, m := range wire {
		if _, ok := byCall[m.CallID]; !ok {
			order = append(order, m.CallID)
		}
		byCall[m.CallID] = append(byCall[m.CallID], m)
	}
	states := map[string]int{}
	for _, id := range order {
		want := wireCall(byCall[id])
		out, errOut, err := runCallsCmd("show", id, "--server", s.url(""), "--json")
		if err != nil {
			t.Fatalf("calls show %s: %v\n%s", id, err, errOut)
		}
		var got struct {
			Method      string   `json:"method"`
			State       string   `json:"state"`
			FinalStatus *int     `json:"final_status"`
			PDDMs       *float64 `json:"pdd_ms"`
			DurationS   *float64 `json:"duration_s"`
			Packets     int      `json:"packets"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("calls show %s: %v\n%s", id, err, out)
		}
		final := 0
		if got.FinalStatus != nil {
			final = *got.FinalStatus
		}
		if got.Method != want.method || got.State != want.state || final != want.final || got.Packets != len(byCall[id]) {
			t.Fatalf("calls show %s: unexpected call; got %s %s %d, %d packets; want %s %s %d, %d on the wire\n%s",
				id, got.Method, got.State, final, got.Packets, want.method, want.state, want.final, len(byCall[id]), out)
		}
		near := func(what string, g *float64, w, tol float64) {
			t.Helper()
			switch {
			case math.IsNaN(w) && g != nil:
				t.Fatalf("calls show %s: unexpected %s %v; want null", id, what, *g)
			case !math.IsNaN(w) && g == nil:
				t.Fatalf("calls show %s: unexpected %s null; want %v (wire)", id, what, w)
			case !math.IsNaN(w) && math.Abs(*g-w) > tol:
				t.Fatalf("calls show %s: unexpected %s; got %v; want %v (wire) within %v", id, what, *g, w, tol)
			}
		}
		near("pdd_ms", got.PDDMs, want.pddMs, 25)
		near("duration_s", got.DurationS, want.durS, 0.025)
		states[got.State]++
	}
	t.Logf("calls of the run, as the wire says: %v", states)
	// The scenarios: 3 REGISTERs, an OPTIONS, and calls answered (sipp's
	// uac), refused by the proxy (404), busy (486) and cancelled.
	for state, n := range map[string]int{"registered": 3, "completed": 1, "answered": 1, "failed": 1, "busy": 1, "cancelled": 1} {
		if states[state] != n {
			t.Fatalf("unexpected calls of the run; got %v; want %d %s", states, n, state)
		}
	}
}
