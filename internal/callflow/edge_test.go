package callflow

import (
	"slices"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
)

// The edge cases are made of the real messages of the HEP3 fixture: their
// times and order are changed, and where a case needs two attempts in one
// Call-ID, the parsed CallID, CSeq and To tag of the second call's packets
// (the SIP text stays as captured: Summarize reads the parsed fields).

// Calls of kamailio-hep3-udp.pcap, by what happened to them.
const (
	answeredID  = "1-16579@127.0.0.1" // INVITE, 100, 180, 200, ACK, BYE, 200 through the proxy
	busyID      = "1-16593@127.0.0.1" // 486 from the callee, forwarded
	notFoundID  = "3-16600@127.0.0.1" // 404 from the proxy, its ACK mirrored twice
	cancelledID = "1-16607@127.0.0.1" // 180, then CANCEL, 200 canceling, 487
	registerID  = "1-16565@127.0.0.1"
	optionsID   = "1-16572@127.0.0.1"
)

func hep3Calls(t *testing.T) map[string][]hepvault.Packet {
	t.Helper()
	calls, _ := readCalls(t, fixture.HEP3+".pcap")
	for _, id := range []string{answeredID, busyID, notFoundID, cancelledID, registerID, optionsID} {
		if len(calls[id]) == 0 {
			t.Fatalf("no packets of %s in %s", id, fixture.HEP3)
		}
	}
	return calls
}

// shifted returns a copy of pkts with every capture time moved by d.
func shifted(pkts []hepvault.Packet, d time.Duration) []hepvault.Packet {
	out := slices.Clone(pkts)
	for i := range out {
		out[i].CapturedAt = out[i].CapturedAt.Add(d)
	}
	return out
}

// as returns a copy of pkts made part of another attempt: Call-ID callID,
// CSeq cseq (for every transaction of the call), starting at start.
func as(pkts []hepvault.Packet, callID string, cseq uint32, start time.Time) []hepvault.Packet {
	out := shifted(pkts, start.Sub(first(pkts)))
	for i := range out {
		out[i].CallID, out[i].CSeq = callID, cseq
	}
	return out
}

func first(pkts []hepvault.Packet) time.Time {
	ps := slices.Clone(pkts)
	Sort(ps)
	return ps[0].CapturedAt
}

func last(pkts []hepvault.Packet) time.Time {
	ps := slices.Clone(pkts)
	Sort(ps)
	return ps[len(ps)-1].CapturedAt
}

// pick returns the first packet (in capture order) that matches.
func pick(t *testing.T, pkts []hepvault.Packet, match func(p *hepvault.Packet) bool) hepvault.Packet {
	t.Helper()
	ps := slices.Clone(pkts)
	Sort(ps)
	for i := range ps {
		if match(&ps[i]) {
			return ps[i]
		}
	}
	t.Fatal("no packet matches")
	return hepvault.Packet{}
}

// diff names the fields in which two calls differ, Packets aside.
func diff(a, b Call) []string {
	var d []string
	f := func(name string, x, y any) {
		if x != y {
			d = append(d, name)
		}
	}
	f("state", a.State, b.State)
	f("final_status", a.FinalStatus, b.FinalStatus)
	f("final_reason", a.FinalReason, b.FinalReason)
	f("method", a.Method, b.Method)
	f("started_at", a.StartedAt, b.StartedAt)
	f("ringing_at", a.RingingAt, b.RingingAt)
	f("answered_at", a.AnsweredAt, b.AnsweredAt)
	f("ended_at", a.EndedAt, b.EndedAt)
	f("pdd", a.PDD, b.PDD)
	f("duration", a.Duration, b.Duration)
	f("has_pdd", a.HasPDD, b.HasPDD)
	f("has_duration", a.HasDuration, b.HasDuration)
	f("from_user", a.FromUser, b.FromUser)
	f("to_user", a.ToUser, b.ToUser)
	f("src_ip", a.SrcIP, b.SrcIP)
	return d
}

func TestSummarize_OutOfOrder(t *testing.T) {
	calls := hep3Calls(t)
	for _, id := range []string{answeredID, busyID, cancelledID, notFoundID} {
		want := Summarize(calls[id])
		rev := slices.Clone(calls[id])
		slices.Reverse(rev)
		if d := diff(Summarize(rev), want); d != nil {
			t.Fatalf("%s reversed: unexpected change in %v", id, d)
		}
		// Every other packet first, as two capture agents' batches might land.
		var mixed []hepvault.Packet
		for i := 1; i < len(rev); i += 2 {
			mixed = append(mixed, rev[i])
		}
		for i := 0; i < len(rev); i += 2 {
			mixed = append(mixed, rev[i])
		}
		if d := diff(Summarize(mixed), want); d != nil {
			t.Fatalf("%s interleaved: unexpected change in %v", id, d)
		}
	}
}

func TestSummarize_Midnight(t *testing.T) {
	calls := hep3Calls(t)
	pkts := calls[answeredID]
	orig := Summarize(pkts)
	// Start 1 ms before midnight: the 180 rings before it, the 200 and the
	// BYE come on the next day.
	start := first(pkts)
	midnight := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, time.UTC)
	d := midnight.Add(-time.Millisecond).Sub(start)
	c := Summarize(shifted(pkts, d))
	if c.State != StateAnswered || c.AnsweredAt.Day() == c.StartedAt.Day() {
		t.Fatalf("unexpected midnight call; got state %s, started %v, answered %v; want answered on the next day", c.State, c.StartedAt, c.AnsweredAt)
	}
	if c.PDD != orig.PDD || c.Duration != orig.Duration || !c.EndedAt.Equal(orig.EndedAt.Add(d)) || c.Packets != orig.Packets {
		t.Fatalf("unexpected midnight call; got pdd %v duration %v ended %v packets %d; want %v %v %v %d",
			c.PDD, c.Duration, c.EndedAt, c.Packets, orig.PDD, orig.Duration, orig.EndedAt.Add(d), orig.Packets)
	}
}

// TestSummarize_Attempts: a call whose Call-ID carries two initial INVITE
// transactions (as after a 401/407 challenge, the INVITE re-sent with a
// higher CSeq) takes its outcome from the last one.
func TestSummarize_Attempts(t *testing.T) {
	calls := hep3Calls(t)
	answered, busy, notFound := calls[answeredID], calls[busyID], calls[notFoundID]
	t0 := first(answered)
	f := func(name string, pkts []hepvault.Packet, wantState State, wantFinal int, wantStart time.Time) {
		t.Helper()
		c := Summarize(pkts)
		if c.State != wantState || c.FinalStatus != wantFinal || !c.StartedAt.Equal(wantStart) {
			t.Fatalf("%s: unexpected outcome; got %s %d started %v; want %s %d started %v", name, c.State, c.FinalStatus, c.StartedAt, wantState, wantFinal, wantStart)
		}
	}
	// Refused (404, 486), then answered with CSeq 2: answered, and PDD from the second INVITE.
	rejected := as(notFound, answeredID, 1, t0.Add(-time.Second))
	pkts := append(rejected, as(answered, answeredID, 2, t0)...)
	f("404 then answered", pkts, StateAnswered, 200, t0.Add(-time.Second))
	if c, o := Summarize(pkts), Summarize(answered); c.PDD != o.PDD || c.Duration != o.Duration {
		t.Fatalf("404 then answered: unexpected pdd/duration; got %v/%v; want those of the answered attempt %v/%v", c.PDD, c.Duration, o.PDD, o.Duration)
	}
	f("486 then answered", append(as(busy, answeredID, 1, t0.Add(-time.Second)), as(answered, answeredID, 2, t0)...), StateAnswered, 200, t0.Add(-time.Second))
	// The CSeq decides, not the time: the later attempt is stamped first.
	f("answered (cseq 2) stamped before 404 (cseq 1)", append(as(notFound, answeredID, 1, t0.Add(time.Second)), as(answered, answeredID, 2, t0)...), StateAnswered, 200, t0)
	// And the other way round: answered, then a new attempt refused.
	f("answered then 404", append(as(answered, answeredID, 1, t0), as(notFound, answeredID, 2, t0.Add(time.Second))...), StateFailed, 404, t0)
}

// TestSummarize_ReINVITE: a re-INVITE inside the dialog (To tag set) that
// is refused does not change the outcome of the call.
func TestSummarize_ReINVITE(t *testing.T) {
	calls := hep3Calls(t)
	answered := calls[answeredID]
	want := Summarize(answered)
	toTag := pick(t, answered, func(p *hepvault.Packet) bool { return p.StatusCode == 200 && p.CSeqMethod == "INVITE" }).ToTag
	re := as(calls[busyID], answeredID, 3, want.AnsweredAt.Add(time.Millisecond))
	for i := range re {
		re[i].ToTag = toTag
	}
	c := Summarize(append(slices.Clone(answered), re...))
	if d := diff(c, want); d != nil {
		t.Fatalf("unexpected change after a refused re-INVITE in %v; got %+v", d, c)
	}
}

func TestSummarize_Cancel(t *testing.T) {
	calls := hep3Calls(t)
	pkts := calls[cancelledID]
	c := Summarize(pkts)
	cancel := pick(t, pkts, func(p *hepvault.Packet) bool { return p.Method == "CANCEL" })
	final := pick(t, pkts, func(p *hepvault.Packet) bool { return p.StatusCode == 487 })
	if c.State != StateCancelled || c.FinalStatus != 487 || !c.HasPDD || c.HasDuration || !c.AnsweredAt.IsZero() {
		t.Fatalf("unexpected cancelled call; got %+v", c)
	}
	// Without its 487s (not captured, or not yet sent), the CANCEL decides.
	var no487 []hepvault.Packet
	for _, p := range pkts {
		if p.StatusCode != 487 {
			no487 = append(no487, p)
		}
	}
	c2 := Summarize(no487)
	if c2.State != StateCancelled || c2.FinalStatus != 0 || !c2.EndedAt.Equal(cancel.CapturedAt) {
		t.Fatalf("unexpected call without 487; got %s %d ended %v; want cancelled 0 ended %v", c2.State, c2.FinalStatus, c2.EndedAt, cancel.CapturedAt)
	}
	// The last 487 is the one the proxy forwards to the caller.
	var lastFinal time.Time
	for _, p := range pkts {
		if p.StatusCode == 487 && p.CapturedAt.After(lastFinal) {
			lastFinal = p.CapturedAt
		}
	}
	if !c.EndedAt.Equal(lastFinal) || lastFinal.Equal(final.CapturedAt) {
		t.Fatalf("unexpected ended_at; got %v; want the forwarded 487's %v (the callee's was %v)", c.EndedAt, lastFinal, final.CapturedAt)
	}
}

func TestSummarize_InProgress(t *testing.T) {
	calls := hep3Calls(t)
	pkts := calls[answeredID]
	ok := pick(t, pkts, func(p *hepvault.Packet) bool { return p.StatusCode == 200 && p.CSeqMethod == "INVITE" })
	var early []hepvault.Packet
	for _, p := range pkts {
		if p.CapturedAt.Before(ok.CapturedAt) {
			early = append(early, p)
		}
	}
	c := Summarize(early)
	if c.State != StateInProgress || c.FinalStatus != 0 || !c.HasPDD || !c.EndedAt.IsZero() || c.HasDuration {
		t.Fatalf("unexpected ringing call; got %+v", c)
	}
}

// TestSummarize_Retransmissions: a message sent again, byte for byte on the
// same path, counts as a packet and moves no time.
func TestSummarize_Retransmissions(t *testing.T) {
	calls := hep3Calls(t)
	f := func(id string, again func(p *hepvault.Packet) bool) {
		t.Helper()
		pkts := calls[id]
		want := Summarize(pkts)
		more := slices.Clone(pkts)
		end := last(pkts)
		n := 0
		for _, p := range pkts {
			if again(&p) {
				p.CapturedAt = end.Add(500 * time.Millisecond)
				more = append(more, p, p)
				n += 2
			}
		}
		if n == 0 {
			t.Fatalf("%s: nothing to retransmit", id)
		}
		c := Summarize(more)
		if d := diff(c, want); d != nil {
			t.Fatalf("%s: unexpected change after retransmissions in %v", id, d)
		}
		if c.Packets != want.Packets+n {
			t.Fatalf("%s: unexpected packets; got %d; want %d", id, c.Packets, want.Packets+n)
		}
	}
	f(answeredID, func(p *hepvault.Packet) bool {
		return p.Method == "INVITE" || p.StatusCode == 180 || p.StatusCode == 200 || p.Method == "BYE"
	})
	f(busyID, func(p *hepvault.Packet) bool { return p.StatusCode == 486 || p.Method == "INVITE" })
	f(registerID, func(p *hepvault.Packet) bool { return true })
	f(notFoundID, func(p *hepvault.Packet) bool { return p.Method == "ACK" })
}

func TestSummarize_NonINVITE(t *testing.T) {
	calls := hep3Calls(t)
	f := func(id string, wantMethod string, wantState State, wantFinal int) {
		t.Helper()
		c := Summarize(calls[id])
		if c.Method != wantMethod || c.State != wantState || c.FinalStatus != wantFinal || c.HasPDD || c.HasDuration || !c.AnsweredAt.IsZero() {
			t.Fatalf("%s: unexpected call; got %+v; want %s %s %d", id, c, wantMethod, wantState, wantFinal)
		}
	}
	f(registerID, "REGISTER", StateRegistered, 200)
	f(optionsID, "OPTIONS", StateCompleted, 200)
	f("1-16654@127.0.0.1", "OPTIONS", StateFailed, 404)
	f("1-16638@127.0.0.1", "MESSAGE", StateCompleted, 200)
	// A REGISTER whose request was not captured: its response says what it was.
	var resp []hepvault.Packet
	for _, p := range calls[registerID] {
		if p.Kind == hepvault.KindResponse {
			resp = append(resp, p)
		}
	}
	f2 := Summarize(resp)
	if f2.Method != "REGISTER" || f2.State != StateRegistered {
		t.Fatalf("responses only: unexpected call; got %s %s; want REGISTER registered", f2.Method, f2.State)
	}
}

func TestSummarize_Empty(t *testing.T) {
	c := Summarize(nil)
	if c.State != StateInProgress || c.Packets != 0 || c.CallID != "" {
		t.Fatalf("unexpected empty call; got %+v", c)
	}
	if _, err := c.MarshalJSON(); err != nil {
		t.Fatal(err)
	}
}
