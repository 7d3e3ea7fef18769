package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/fixture/collected"
	"github.com/hepvault/hepvault/store"
)

// legsPackets are the HEP packets of the legs capture as the collector
// builds them.
func legsPackets(t *testing.T) []hepvault.Packet {
	t.Helper()
	return collected.HEP(t, fixture.LegsPcap)
}

// legsTruth is tshark's reading of the capture's SIP on the wire, by the
// group of Call-IDs (caller's and callee's leg) each message belongs to.
func legsTruth(t *testing.T) (groups [][2]string, byGroup map[string][]fixture.Message) {
	t.Helper()
	msgs := fixture.LoadTSV(t, fixture.LegsPcap)
	byGroup = map[string][]fixture.Message{}
	leg := map[string]string{} // callee's Call-ID -> caller's
	for _, m := range msgs {
		if m.XCID != "" {
			leg[m.CallID] = m.XCID
			groups = append(groups, [2]string{m.XCID, m.CallID})
		}
	}
	for _, m := range msgs {
		a := m.CallID
		if c, ok := leg[a]; ok {
			a = c
		}
		byGroup[a] = append(byGroup[a], m)
	}
	if len(groups) != 2 {
		t.Fatalf("unexpected number of X-CID INVITEs in the capture's truth: %d; want 2", len(groups))
	}
	return groups, byGroup
}

func TestLegs_RealB2BUA(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	pkts := legsPackets(t)
	write(t, db, pkts...)
	groups, byGroup := legsTruth(t)
	for _, g := range groups {
		a, b := g[0], g[1]
		if a == b {
			t.Fatalf("the legs share Call-ID %s: the capture has no second leg", a)
		}
		for _, c := range []struct{ id, other string }{{a, b}, {b, a}} {
			got, legs, err := db.CallLegs(ctx, c.id, false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(legs, []string{c.other}) {
				t.Fatalf("%s: unexpected legs; got %q; want [%s]", c.id, legs, c.other)
			}
			for _, p := range got {
				if p.CallID != c.id {
					t.Fatalf("%s without its legs' packets: unexpected packet of Call-ID %s", c.id, p.CallID)
				}
			}
			// Every packet of both legs, in capture order: the wire's
			// order as tshark read it.
			all, _, err := db.CallLegs(ctx, c.id, true)
			if err != nil {
				t.Fatal(err)
			}
			want := byGroup[a]
			if len(all) != len(want) {
				t.Fatalf("%s with legs: unexpected %d packets; tshark saw %d", c.id, len(all), len(want))
			}
			for i, w := range want {
				p := all[i]
				if p.CallID != w.CallID || p.Method != w.Method || p.StatusCode != w.Status || p.CSeqMethod != w.CSeqMethod {
					t.Fatalf("%s with legs, packet %d: unexpected %s %s %d %s; tshark read frame %d as %s %s %d %s",
						c.id, i+1, p.CallID, p.Method, p.StatusCode, p.CSeqMethod, w.Frame, w.CallID, w.Method, w.Status, w.CSeqMethod)
				}
				if w.XCID != "" && p.CorrelationHeader != w.XCID {
					t.Fatalf("%s with legs, packet %d: unexpected correlation header %q; want tshark's X-CID %q", c.id, i+1, p.CorrelationHeader, w.XCID)
				}
			}
		}
		// "Which packets carry correlation a": the callee leg's INVITE.
		carry, _, err := db.Packets(ctx, hepvault.Filter{CorrelationID: a, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(carry) != 1 || carry[0].CallID != b || carry[0].Method != "INVITE" {
			t.Fatalf("correlation_id %s: unexpected packets %v; want the INVITE of %s", a, summaries(carry), b)
		}
	}
	// The list fills legs for every call of the page, callee legs too.
	first, last := pkts[0].CapturedAt, pkts[len(pkts)-1].CapturedAt
	page, err := db.Calls(ctx, store.CallFilter{Filter: hepvault.Filter{From: first, To: last.Add(time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Calls) != 4 {
		t.Fatalf("unexpected calls listed: %d; want 4 (two calls, two legs each)", len(page.Calls))
	}
	pair := map[string]string{}
	for _, g := range groups {
		pair[g[0]], pair[g[1]] = g[1], g[0]
	}
	for _, c := range page.Calls {
		if !slices.Equal(c.Legs, []string{pair[c.CallID]}) {
			t.Fatalf("listed call %s: unexpected legs %q; want [%s]", c.CallID, c.Legs, pair[c.CallID])
		}
	}
}

func summaries(pkts []hepvault.Packet) []string {
	var s []string
	for _, p := range pkts {
		s = append(s, p.CallID+" "+p.Summary())
	}
	return s
}

// Legs through HEP's correlation id and a shared header value, a chain of
// three, a group bounded by MaxLegs, and a Call-ID used again long after.
func TestLegs_Groups(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	at := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	var all []hepvault.Packet
	add := func(at time.Time, callID, corrID, corrHeader string) {
		pkts := dialog(at, callID, "INVITE", 200, "alice", "bob", "10.0.0.1")
		pkts[0].CorrelationID, pkts[0].CorrelationHeader = corrID, corrHeader
		all = append(all, pkts...)
	}
	// HEP correlation id naming the first leg; a third leg naming the second.
	add(at, "chain-a", "", "")
	add(at.Add(10*time.Millisecond), "chain-b", "chain-a", "")
	add(at.Add(20*time.Millisecond), "chain-c", "", "chain-b")
	// Two legs sharing an icid-value that is no Call-ID.
	add(at.Add(time.Second), "icid-a", "", "icid-77")
	add(at.Add(time.Second+5*time.Millisecond), "icid-b", "", "icid-77")
	// A leg naming chain-a two hours later: another call, not a leg.
	add(at.Add(2*time.Hour), "late", "chain-a", "")
	// A constant correlation on more calls than a group holds.
	for i := range store.MaxLegs + 5 {
		add(at.Add(2*time.Second+time.Duration(i)*time.Millisecond), "many-"+string(rune('a'+i)), "", "same")
	}
	write(t, db, all...)
	want := map[string][]string{
		"chain-a": {"chain-b", "chain-c"},
		"chain-b": {"chain-a", "chain-c"},
		"chain-c": {"chain-a", "chain-b"},
		"icid-a":  {"icid-b"},
		"icid-b":  {"icid-a"},
		"late":    nil,
	}
	for id, w := range want {
		_, legs, err := db.CallLegs(ctx, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(legs, w) && !(len(legs) == 0 && len(w) == 0) {
			t.Fatalf("%s: unexpected legs; got %q; want %q", id, legs, w)
		}
	}
	_, legs, err := db.CallLegs(ctx, "many-a", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(legs) != store.MaxLegs {
		t.Fatalf("many-a: unexpected %d legs; want the bound, %d", len(legs), store.MaxLegs)
	}
	page, err := db.Calls(ctx, store.CallFilter{Filter: hepvault.Filter{From: at, To: at.Add(time.Minute)}, States: nil})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Calls {
		if w, ok := want[c.CallID]; ok && !slices.Equal(c.Legs, w) {
			t.Fatalf("listed %s: unexpected legs; got %q; want %q", c.CallID, c.Legs, w)
		}
	}
}
