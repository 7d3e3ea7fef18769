package callflow

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
)

// truthRow is one SIP message as tshark read it, from either kind of truth
// file. The .truth.tsv files have no CSeq number nor To tag: there cseq is
// 0 and toTag unknown, which reads every request of a call as one
// transaction (true of those captures: no challenge, no re-INVITE).
type truthRow struct {
	frame      int
	time       time.Time
	method     string
	status     int
	cseq       uint32
	cseqMethod string
	toTag      bool
}

// want is what a call's truth rows say, worked out here from tshark's
// reading alone, by the rules of Summarize's doc comment.
type want struct {
	state                         State
	final                         int
	started, ringing, answer, end time.Time
	pdd, duration                 time.Duration
	hasPDD, hasDuration           bool
	packets                       int
}

func expect(rows []truthRow) want {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b truthRow) int { return a.time.Compare(b.time) })
	w := want{state: StateInProgress, packets: len(rows)}
	method := ""
	for _, r := range rows {
		if r.method != "" {
			method, w.started = r.method, r.time
			break
		}
	}
	var top uint32
	for _, r := range rows {
		if r.method == method && !r.toTag && r.cseq > top {
			top = r.cseq
		}
	}
	var invite, ring, ok, fail, cancel *truthRow
	for i := range rows {
		r := &rows[i]
		if r.cseq != top {
			continue
		}
		switch {
		case r.method == method && invite == nil:
			invite = r
		case r.method == "CANCEL" && cancel == nil:
			cancel = r
		case r.cseqMethod != method || r.status == 0:
		case (r.status == 180 || r.status == 183) && ring == nil:
			ring = r
		case r.status/100 == 2 && ok == nil:
			ok = r
		case r.status >= 300:
			fail = r
		}
	}
	switch {
	case ok != nil:
		w.final = ok.status
	case fail != nil:
		w.final = fail.status
	}
	if method != "INVITE" {
		switch {
		case ok != nil && method == "REGISTER":
			w.state, w.end = StateRegistered, ok.time
		case ok != nil:
			w.state, w.end = StateCompleted, ok.time
		case fail != nil:
			w.state, w.end = StateFailed, fail.time
		}
		return w
	}
	if ring != nil {
		w.ringing, w.pdd, w.hasPDD = ring.time, ring.time.Sub(invite.time), true
	}
	switch {
	case ok != nil:
		w.state, w.answer = StateAnswered, ok.time
		for _, r := range rows {
			if r.method == "BYE" && !r.time.Before(ok.time) {
				w.end, w.duration, w.hasDuration = r.time, r.time.Sub(ok.time), true
				break
			}
		}
	case fail != nil:
		w.end = fail.time
		w.state = map[int]State{487: StateCancelled, 486: StateBusy, 600: StateBusy, 408: StateNoAnswer, 480: StateNoAnswer}[fail.status]
		if cancel != nil {
			w.state = StateCancelled
		}
		if w.state == "" {
			w.state = StateFailed
		}
	case cancel != nil:
		w.state, w.end = StateCancelled, cancel.time
	}
	return w
}

func hepTruth(t *testing.T, name string) map[string][]truthRow {
	out := map[string][]truthRow{}
	for _, r := range fixture.Load(t, name) {
		tr := r.Truth
		tm, err := time.Parse(time.RFC3339Nano, tr.CaptureTime)
		tm = tm.UTC()
		if err != nil {
			t.Fatalf("%s frame %d: capture_time %q: %v", name, tr.Frame, tr.CaptureTime, err)
		}
		out[tr.CallID] = append(out[tr.CallID], truthRow{frame: tr.Frame, time: tm, method: tr.Method,
			status: tr.StatusCode, cseq: tr.CSeqNum, cseqMethod: tr.CSeqMethod, toTag: tr.ToTag != nil && *tr.ToTag != ""})
	}
	return out
}

func tsvTruth(t *testing.T, capture string) map[string][]truthRow {
	out := map[string][]truthRow{}
	for _, m := range fixture.LoadTSV(t, capture) {
		// hepvault keeps capture times to the microsecond (the pcapng
		// has nanoseconds).
		out[m.CallID] = append(out[m.CallID], truthRow{frame: m.Frame, time: m.Time.Truncate(time.Microsecond), method: m.Method,
			status: m.Status, cseqMethod: m.CSeqMethod})
	}
	return out
}

// TestSummarize_Fixtures summarizes every call of every real capture and
// compares it with what tshark's reading of the same packets says.
func TestSummarize_Fixtures(t *testing.T) {
	f := func(file string, truth map[string][]truthRow) {
		t.Helper()
		calls, _ := readCalls(t, file)
		if len(calls) != len(truth) {
			t.Fatalf("%s: unexpected call count; got %d; want %d", file, len(calls), len(truth))
		}
		states := map[State]int{}
		for id, rows := range truth {
			w := expect(rows)
			got := Summarize(calls[id])
			states[got.State]++
			check := func(what string, g, e any) {
				t.Helper()
				if g != e {
					t.Errorf("%s %s: unexpected %s; got %v; want %v", file, id, what, g, e)
				}
			}
			check("call_id", got.CallID, id)
			check("state", got.State, w.state)
			check("final status", got.FinalStatus, w.final)
			check("packets", got.Packets, w.packets)
			check("started_at", got.StartedAt, w.started)
			check("ringing_at", got.RingingAt, w.ringing)
			check("answered_at", got.AnsweredAt, w.answer)
			check("ended_at", got.EndedAt, w.end)
			check("has pdd", got.HasPDD, w.hasPDD)
			check("has duration", got.HasDuration, w.hasDuration)
			check("pdd", got.PDD, w.pdd)
			check("duration", got.Duration, w.duration)
		}
		t.Logf("%s: %d calls: %v", file, len(calls), states)
	}
	f(fixture.HEP3+".pcap", hepTruth(t, fixture.HEP3))
	f(fixture.HEP2+".pcap", hepTruth(t, fixture.HEP2))
	for _, c := range fixture.PlainSIP {
		f(c, tsvTruth(t, c))
	}
}

// TestSummarize_FixtureStates makes sure the fixtures exercise the states
// the rules name, so TestSummarize_Fixtures cannot pass on a narrow mix.
func TestSummarize_FixtureStates(t *testing.T) {
	calls, _ := readCalls(t, fixture.HEP3+".pcap")
	got := map[State]int{}
	for _, pkts := range calls {
		got[Summarize(pkts).State]++
	}
	for _, s := range []State{StateAnswered, StateBusy, StateFailed, StateCancelled, StateRegistered, StateCompleted} {
		if got[s] == 0 {
			t.Fatalf("unexpected states in %s; got %v; want at least one %s", fixture.HEP3, got, s)
		}
	}
}

// TestCall_JSON checks the keys and formats of a Call in JSON, on a real
// answered call.
func TestCall_JSON(t *testing.T) {
	calls, _ := readCalls(t, fixture.HEP3+".pcap")
	c := Summarize(calls["1-16579@127.0.0.1"])
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := "answered_at call_id dst_ip duration_s ended_at final_reason final_status from_user legs method packets pdd_ms ringing_at ruri_user src_ip started_at state to_user user_agent"
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	if strings.Join(got, " ") != keys {
		t.Fatalf("unexpected keys; got %v; want %s", got, keys)
	}
	f := func(key string, want any) {
		t.Helper()
		if m[key] != want {
			t.Fatalf("unexpected %s; got %#v; want %#v", key, m[key], want)
		}
	}
	f("started_at", c.StartedAt.Format("2006-01-02T15:04:05.000000Z"))
	f("state", "answered")
	f("final_status", 200.0)
	f("pdd_ms", float64(c.PDD.Microseconds())/1e3)
	f("duration_s", float64(c.Duration.Microseconds())/1e6)
	f("user_agent", nil)
	if l, ok := m["legs"].([]any); !ok || len(l) != 0 {
		t.Fatalf("unexpected legs; got %#v; want []", m["legs"])
	}
	if !c.HasPDD || c.PDD <= 0 || !c.HasDuration || c.Duration <= 0 {
		t.Fatalf("unexpected pdd/duration of an answered, rung and ended call; got %v/%v", c.PDD, c.Duration)
	}
}
