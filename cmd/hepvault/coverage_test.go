package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
)

// retimed returns the fixture's HEP packets re-encoded as HEPv3 from agent
// captureID, packet i captured at at(i): the captures' SIP as Kamailio
// mirrored it, at times coverage compares with hepvault's own record.
func retimed(t *testing.T, recs []fixture.Record, n int, captureID uint32, at func(i int) time.Time) [][]byte {
	t.Helper()
	var d hep.Decoder
	var p hep.Packet
	out := make([][]byte, n)
	for i := range out {
		p.Reset()
		if err := d.Decode(recs[i%len(recs)].Datagram, &p); err != nil {
			t.Fatal(err)
		}
		ts := at(i)
		p.TsSec, p.TsUsec, p.CaptureID = uint32(ts.Unix()), uint32(ts.Nanosecond()/1000), captureID
		out[i] = hep.AppendV3(nil, &p)
	}
	return out
}

// TestCoverage_LostOnPurpose loses packets three ways while fixture traffic
// flows through hepvault serve: a queue too small for a burst, PostgreSQL
// stopped with the spool off, and an agent silent for longer than the gap.
// Coverage must report each, at its time, and call the window incomplete;
// hepvault query must warn about that window, and not about a clean one.
func TestCoverage_LostOnPurpose(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	pg := startPostgres(t)
	dsn := freshDatabase(t, pg, "coverage")
	cfg := serveConfig{
		DB: dsn, HEPUDP: "127.0.0.1:0", HEPTCP: "", HTTP: "127.0.0.1:0", ShutdownTimeout: 20 * time.Second,
		SpoolMaxBytes: 0, Heartbeat: 300 * time.Millisecond, QueueSize: 8, NodeName: "node-1",
	}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Shut down before the restarted PostgreSQL, whose cleanup runs first.
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { s.shutdown() }) }
	t.Cleanup(stop)
	conn, err := net.Dial("udp", s.col.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const agentA, agentB = 2001, 2002
	// send sends n packets of agent, one every step, each captured as sent.
	send := func(agent uint32, n int, step time.Duration) {
		t.Helper()
		for i := range n {
			b := retimed(t, recs[i%len(recs):], 1, agent, func(int) time.Time { return time.Now() })[0]
			if _, err := conn.Write(b); err != nil {
				t.Fatal(err)
			}
			if step > 0 {
				time.Sleep(step)
			}
		}
	}
	both := func(n int, step time.Duration) {
		for range n {
			send(agentA, 1, 0)
			send(agentB, 1, step)
		}
	}

	t0 := time.Now()
	both(20, 20*time.Millisecond)
	clean := time.Now()
	time.Sleep(400 * time.Millisecond) // a heartbeat without losses

	// 1. A burst the queue of 8 cannot hold.
	burst0 := time.Now()
	for _, b := range retimed(t, recs, 5000, agentB, func(int) time.Time { return time.Now() }) {
		conn.Write(b)
	}
	burst1 := time.Now()
	if n := s.col.Metrics().Dropped(collector.ReasonQueueFull); n == 0 {
		t.Fatal("the burst lost nothing: the test cannot show a full queue")
	}
	time.Sleep(700 * time.Millisecond) // the burst's period ends

	// 2. Agent A is silent for 4 s while B goes on.
	both(5, 20*time.Millisecond)
	quiet0 := time.Now()
	send(agentB, 80, 50*time.Millisecond)
	quiet1 := time.Now()
	both(5, 20*time.Millisecond)

	// 3. PostgreSQL stops; without a spool the writer holds its batch and
	// the queue overflows.
	time.Sleep(500 * time.Millisecond)
	dropsBefore := s.col.Metrics().Dropped(collector.ReasonQueueFull)
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	down0 := time.Now()
	both(100, 10*time.Millisecond)
	if s.col.Metrics().Dropped(collector.ReasonQueueFull) == dropsBefore {
		t.Fatal("nothing was lost while PostgreSQL was down")
	}
	pg.restart(t)
	t.Cleanup(stop)
	down1 := time.Now()
	both(10, 20*time.Millisecond)
	end := time.Now()

	coverage := func(from, to time.Time) store.Coverage {
		t.Helper()
		q := url.Values{"from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}, "gap": {"2s"}}
		resp, err := http.Get(s.url("/api/v1/coverage?" + q.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var cv store.Coverage
		if err := json.NewDecoder(resp.Body).Decode(&cv); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("coverage: %s, %v", resp.Status, err)
		}
		return cv
	}
	var cv store.Coverage
	waitUntil(t, 20*time.Second, "the outage in the node record", func() bool {
		cv = coverage(t0, end)
		for _, r := range cv.Reasons {
			if r.Kind == "database_down" {
				return true
			}
		}
		return false
	})
	if cv.Complete {
		t.Fatalf("the window is called complete: %+v", cv)
	}
	// overlaps says whether a reason's span meets [from, to], give or take
	// a heartbeat.
	slack := cfg.Heartbeat + 100*time.Millisecond
	overlaps := func(r store.CoverageReason, from, to time.Time) bool {
		return r.From.Before(to.Add(slack)) && r.To.After(from.Add(-slack))
	}
	var queueFull, outage, silent, notRunning int
	for _, r := range cv.Reasons {
		switch {
		case r.Kind == "dropped" && strings.Contains(r.Detail, "queue_full"):
			if !overlaps(r, burst0, burst1) && !overlaps(r, down0, down1) {
				t.Errorf("queue_full drops at a time nothing was lost: %+v", r)
			}
			if overlaps(r, burst0, burst1) {
				queueFull++
			}
		case r.Kind == "database_down":
			if !overlaps(r, down0, down1) || !strings.Contains(r.Detail, "lost") {
				t.Errorf("unexpected outage: %+v; want one within %s to %s that lost packets", r, down0, down1)
			}
			outage++
		case r.Kind == "agent_silent" && overlaps(r, down0, down1):
			// What the outage lost: a silence of either agent, and true.
		case r.Kind == "agent_silent":
			if !strings.Contains(r.Detail, "2001") || r.From.Before(quiet0.Add(-time.Second)) || r.To.After(quiet1.Add(time.Second)) ||
				r.To.Sub(r.From) < 3*time.Second {
				t.Errorf("unexpected silence: %+v; want agent 2001 from about %s to %s", r, quiet0, quiet1)
			}
			silent++
		case r.Kind == "not_running":
			notRunning++
		}
	}
	if queueFull == 0 || outage != 1 || silent != 1 || notRunning != 0 {
		t.Fatalf("unexpected reasons; got %d queue_full at the burst, %d outages, %d silences, %d not running; want >0, 1, 1, 0:\n%+v",
			queueFull, outage, silent, notRunning, cv.Reasons)
	}
	if len(cv.Agents) != 2 || cv.Agents[0].CaptureID != agentA || cv.Agents[0].First.Before(t0.Add(-time.Second)) {
		t.Fatalf("unexpected agents: %+v", cv.Agents)
	}

	// hepvault query warns about the window, and says nothing of a clean one.
	query := func(from, to time.Time) (string, string) {
		var out, errOut bytes.Buffer
		args := []string{"query", "--server", s.url(""), "--limit", "2", "--from", from.UTC().Format(time.RFC3339Nano), "--to", to.UTC().Format(time.RFC3339Nano)}
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String()
	}
	if out, warn := query(t0, end); !strings.HasPrefix(warn, "warning: this window is not complete") || !strings.Contains(out, "#1 ") {
		t.Fatalf("unexpected query output for the lossy window; stderr %q, stdout %q", warn, out)
	}
	if out, warn := query(t0, clean); warn != "" || !strings.Contains(out, "#2 ") {
		t.Fatalf("unexpected query output for a clean window; stderr %q, stdout %q", warn, out)
	}

	// hepvault coverage prints the verdict and each reason.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"coverage", "--server", s.url(""), "--gap", "2s", "--from", t0.UTC().Format(time.RFC3339Nano),
		"--to", end.UTC().Format(time.RFC3339Nano)}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"verdict  NOT complete", "database_down", "agent_silent", "queue_full", "2001", "2002", "node-1"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("hepvault coverage does not say %q:\n%s", want, out.String())
		}
	}
}
