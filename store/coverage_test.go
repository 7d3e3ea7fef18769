package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

func TestCoverage_AgentGaps(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var pkts []hepvault.Packet
	add := func(id uint32, from, to time.Duration) {
		for at := from; at < to; at += time.Second {
			p := packet(t0.Add(at), hepvault.KindRequest, "OPTIONS", 0, "c")
			p.CaptureID = id
			pkts = append(pkts, p)
		}
	}
	add(7, 0, 5*time.Minute)                  // steady
	add(4242, 10*time.Second, 40*time.Second) // then silent for 2 minutes
	add(4242, 160*time.Second, 200*time.Second)
	write(t, db, pkts...)

	cv, err := db.Coverage(ctx, store.CoverageQuery{From: t0, To: t0.Add(5 * time.Minute), Gap: time.Minute, Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cv.Agents) != 2 || cv.Agents[0].CaptureID != 7 || cv.Agents[1].CaptureID != 4242 {
		t.Fatalf("unexpected agents; got %+v; want 7 and 4242", cv.Agents)
	}
	steady, quiet := cv.Agents[0], cv.Agents[1]
	if len(steady.Gaps) != 0 || steady.Packets != 300 || !steady.First.Equal(t0) || !steady.Last.Equal(t0.Add(299*time.Second)) {
		t.Fatalf("unexpected steady agent; got %+v; want 300 packets from t0 to t0+299s, no gap", steady)
	}
	if !quiet.First.Equal(t0.Add(10*time.Second)) || !quiet.Last.Equal(t0.Add(199*time.Second)) || quiet.Packets != 70 {
		t.Fatalf("unexpected first, last or count; got %+v", quiet)
	}
	if len(quiet.Gaps) != 1 {
		t.Fatalf("unexpected gaps; got %+v; want one", quiet.Gaps)
	}
	// Block edges: within four seconds of the packets' own times.
	g := quiet.Gaps[0]
	if g.From.Before(t0.Add(39*time.Second)) || g.From.After(t0.Add(43*time.Second)) || g.To.Before(t0.Add(156*time.Second)) || g.To.After(t0.Add(160*time.Second)) {
		t.Fatalf("unexpected gap; got %s to %s; want about t0+39s to t0+160s", g.From, g.To)
	}
	if cv.Complete || !hasReason(cv, "agent_silent", "4242") {
		t.Fatalf("unexpected verdict; got complete %v, reasons %+v; want incomplete for agent 4242", cv.Complete, cv.Reasons)
	}
	// With a longer gap allowed, the silence is no reason.
	cv, err = db.Coverage(ctx, store.CoverageQuery{From: t0, To: t0.Add(5 * time.Minute), Gap: 3 * time.Minute, Now: t0.Add(time.Hour)})
	if err != nil || hasReason(cv, "agent_silent", "") {
		t.Fatalf("unexpected reasons with a 3m gap; got %+v, %v", cv.Reasons, err)
	}
}

func hasReason(cv store.Coverage, kind, detail string) bool {
	for _, r := range cv.Reasons {
		if r.Kind == kind && strings.Contains(r.Detail, detail) {
			return true
		}
	}
	return false
}

func reasonSpan(t *testing.T, cv store.Coverage, kind string) store.Span {
	t.Helper()
	for _, r := range cv.Reasons {
		if r.Kind == kind {
			return r.Span
		}
	}
	t.Fatalf("no %s reason in %+v", kind, cv.Reasons)
	return store.Span{}
}

func TestCoverage_NodeRecord(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	m := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	period := func(from, to int, drops map[string]uint64, spooled uint64, spoolBytes int64, down bool) store.NodePeriod {
		return store.NodePeriod{Node: "a", Start: m(from), End: m(to), NextBy: m(to + 2), Drops: drops, Spooled: spooled, SpoolBytes: spoolBytes, DBDown: down}
	}
	ps := []store.NodePeriod{
		period(0, 1, nil, 0, 0, false),
		period(1, 2, map[string]uint64{"queue_full": 5, "not_sip": 9}, 0, 0, false),
		period(2, 3, map[string]uint64{"queue_full": 7}, 0, 0, true),
		// not running from minute 3 to 5
		period(5, 6, nil, 40, 0, true), // an outage the spool took whole
		period(6, 7, nil, 0, 0, false),
	}
	if err := db.RecordNodePeriods(ctx, ps); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordNodePeriods(ctx, ps[:1]); err != nil { // again: kept once
		t.Fatal(err)
	}
	cv, err := db.Coverage(ctx, store.CoverageQuery{From: m(0), To: m(8), Gap: time.Minute, Now: m(30)})
	if err != nil {
		t.Fatal(err)
	}
	if cv.Complete {
		t.Fatal("a window with drops, an outage and a stop is called complete")
	}
	want := []struct {
		kind     string
		from, to time.Time
	}{
		{"dropped", m(1), m(3)},
		{"database_down", m(2), m(3)},
		{"not_running", m(3), m(5)},
		{"not_running", m(7), m(8)}, // the next period was due by minute 9, and now is later
	}
	if len(cv.Reasons) != len(want) {
		t.Fatalf("unexpected reasons; got %+v; want %d", cv.Reasons, len(want))
	}
	for i, w := range want {
		r := cv.Reasons[i]
		if r.Kind != w.kind || !r.From.Equal(w.from) || !r.To.Equal(w.to) {
			t.Fatalf("unexpected reason %d; got %s %s to %s; want %s %s to %s", i, r.Kind, r.From, r.To, w.kind, w.from, w.to)
		}
	}
	if len(cv.Drops) != 1 || cv.Drops[0].Packets != 12 || cv.Drops[0].Reason != "queue_full" {
		t.Fatalf("unexpected drops; got %+v; want 12 queue_full (not_sip loses no SIP)", cv.Drops)
	}
	if len(cv.Outages) != 2 || cv.Outages[1].Spooled != 40 || cv.Outages[1].Dropped != 0 {
		t.Fatalf("unexpected outages; got %+v", cv.Outages)
	}
	if len(cv.Spool) != 1 || !cv.Spool[0].From.Equal(m(5)) {
		t.Fatalf("unexpected spool periods; got %+v", cv.Spool)
	}

	// A node whose last period ended a moment ago runs on until its next
	// one is due: the window up to now is complete.
	cv, err = db.Coverage(ctx, store.CoverageQuery{From: m(6), To: m(10), Gap: time.Minute, Now: m(8)})
	if err != nil || !cv.Complete {
		t.Fatalf("unexpected verdict for a running node; got complete %v, reasons %+v, %v", cv.Complete, cv.Reasons, err)
	}
	// A window before any record: nothing could have been received.
	cv, err = db.Coverage(ctx, store.CoverageQuery{From: m(-10), To: m(-5), Gap: time.Minute, Now: m(30)})
	if err != nil || cv.Complete || reasonSpan(t, cv, "not_running") != (store.Span{From: m(-10), To: m(-5)}) {
		t.Fatalf("unexpected verdict before any record; got %+v, %v", cv.Reasons, err)
	}
}

func TestAccessLog_Logger(t *testing.T) {
	db := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	l := store.NewAccessLogger(db, nil, 2)
	at := time.Now().UTC().Truncate(time.Microsecond)
	for i, tok := range []string{"alice", "bob", "carol"} {
		l.Log(store.AccessEntry{At: at.Add(time.Duration(i) * time.Millisecond), Token: tok, Role: "read", Client: "192.0.2.1",
			Method: "GET", Route: "/api/v1/packets", Params: "limit=5", Status: 200, Returned: 5})
	}
	if l.Dropped() != 1 {
		t.Fatalf("unexpected dropped; got %d; want 1 (the channel holds 2, nothing reads it yet)", l.Dropped())
	}
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	cancel()
	<-done
	if l.Stored() != 2 {
		t.Fatalf("unexpected stored; got %d; want 2", l.Stored())
	}
	es, err := db.AccessLog(context.Background(), store.AccessQuery{From: at.Add(-time.Second), To: at.Add(time.Second), Limit: 10})
	if err != nil || len(es) != 2 || es[0].Token != "alice" || es[1].Token != "bob" || es[0].Returned != 5 || es[0].Route != "/api/v1/packets" {
		t.Fatalf("unexpected access log; got %+v, %v", es, err)
	}
	es, err = db.AccessLog(context.Background(), store.AccessQuery{From: at.Add(-time.Second), To: at.Add(time.Second), Token: "bob", Limit: 10})
	if err != nil || len(es) != 1 || es[0].Token != "bob" {
		t.Fatalf("unexpected access log of bob; got %+v, %v", es, err)
	}
	if err := db.DropAuditBefore(context.Background(), at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if es, _ := db.AccessLog(context.Background(), store.AccessQuery{From: at.Add(-time.Second), To: at.Add(time.Second), Limit: 10}); len(es) != 0 {
		t.Fatalf("unexpected rows after pruning; got %d", len(es))
	}
}

func TestCoverage_NodeJustStarted(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	start := time.Now().UTC().Add(-10 * time.Second)
	open := store.NodePeriod{Node: "n", Start: start, End: start, NextBy: start.Add(2 * time.Minute)}
	if err := db.RecordNodePeriods(ctx, []store.NodePeriod{open}); err != nil {
		t.Fatal(err)
	}
	cv, err := db.Coverage(ctx, store.CoverageQuery{From: start, To: start.Add(time.Hour), Gap: time.Minute, Now: start.Add(10 * time.Second)})
	if err != nil || !cv.Complete {
		t.Fatalf("unexpected verdict for a node that opened its record 10 s ago; got %+v, %v; want complete", cv.Reasons, err)
	}
	// Its first whole period replaces the empty one.
	first := store.NodePeriod{Node: "n", Start: start, End: start.Add(time.Minute), NextBy: start.Add(3 * time.Minute),
		Drops: map[string]uint64{"queue_full": 3}}
	if err := db.RecordNodePeriods(ctx, []store.NodePeriod{first}); err != nil {
		t.Fatal(err)
	}
	cv, err = db.Coverage(ctx, store.CoverageQuery{From: start, To: start.Add(time.Hour), Gap: time.Minute, Now: start.Add(70 * time.Second)})
	if err != nil || len(cv.Drops) != 1 || cv.Drops[0].Packets != 3 || hasReason(cv, "not_running", "") {
		t.Fatalf("unexpected coverage after the first period; got drops %+v, reasons %+v, %v", cv.Drops, cv.Reasons, err)
	}
}
