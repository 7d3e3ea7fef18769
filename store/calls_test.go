package store_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/store"
)

// dialog is the packets of one call: method from caller to callee at at,
// answered with status (INVITE: 180 first, and ACK and BYE after a 2xx).
func dialog(at time.Time, callID, method string, status int, from, to, ip string) []hepvault.Packet {
	req := func(t time.Time, m string, cseq uint32, toTag string) hepvault.Packet {
		p := packet(t, hepvault.KindRequest, m, 0, callID)
		p.CSeq, p.CSeqMethod, p.ToTag = cseq, m, toTag
		p.FromUser, p.ToUser, p.RURIUser = from, to, to
		p.SrcIP = netip.MustParseAddr(ip)
		p.Raw = append(p.Raw, m...)
		return p
	}
	resp := func(t time.Time, code int, m string, cseq uint32) hepvault.Packet {
		p := packet(t, hepvault.KindResponse, "", code, callID)
		p.CSeq, p.CSeqMethod, p.ToTag = cseq, m, "t1"
		p.FromUser, p.ToUser = from, to
		p.DstIP = netip.MustParseAddr(ip)
		p.Raw = append(p.Raw, byte(code), byte(cseq))
		return p
	}
	pkts := []hepvault.Packet{req(at, method, 1, "")}
	if method == "INVITE" {
		pkts = append(pkts, resp(at.Add(100*time.Millisecond), 180, method, 1))
	}
	pkts = append(pkts, resp(at.Add(time.Second), status, method, 1))
	if method == "INVITE" && status < 300 {
		pkts = append(pkts, req(at.Add(1100*time.Millisecond), "ACK", 1, "t1"),
			req(at.Add(31*time.Second), "BYE", 2, "t1"), resp(at.Add(31100*time.Millisecond), 200, "BYE", 2))
	}
	return pkts
}

func listedIDs(cs []callflow.Call) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.CallID)
	}
	return ids
}

func TestCalls_Listing(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	var all []hepvault.Packet
	add := func(pkts []hepvault.Packet) { all = append(all, pkts...) }
	// Before the window, but still talking in it: not listed.
	add(dialog(day.Add(-10*time.Second), "early", "INVITE", 200, "+15550001", "200", "10.0.0.1"))
	// Challenged before the window, registered in it: the request re-sent
	// with credentials has no To tag either, yet it starts no call.
	challenged := dialog(day.Add(-time.Second), "early-auth", "REGISTER", 401, "309", "309", "10.0.0.7")
	again := dialog(day.Add(500*time.Millisecond), "early-auth", "REGISTER", 200, "309", "309", "10.0.0.7")
	for i := range again {
		again[i].CSeq = 2
	}
	add(append(challenged, again...))
	add(dialog(day.Add(time.Second), "c1", "INVITE", 200, "+15550001", "200", "10.0.0.1"))
	add(dialog(day.Add(2*time.Second), "c2", "REGISTER", 200, "300", "300", "10.0.0.2"))
	add(dialog(day.Add(3*time.Second), "c3", "INVITE", 486, "301", "+15550001", "10.0.0.3"))
	add(dialog(day.Add(4*time.Second), "c4", "OPTIONS", 200, "302", "303", "10.0.0.4"))
	add(dialog(day.Add(5*time.Second), "c5", "INVITE", 487, "15550001", "304", "10.0.0.1"))
	// Spans midnight: one call, listed on the day it started.
	add(dialog(day.Add(24*time.Hour-10*time.Second), "midnight", "INVITE", 200, "305", "306", "10.0.0.5"))
	// Stored out of order: its packets arrive last, reversed.
	late := dialog(day.Add(6*time.Second), "late", "INVITE", 480, "307", "308", "10.0.0.6")
	slices.Reverse(late)
	write(t, db, all...)
	write(t, db, late...)

	list := func(f store.CallFilter) store.CallsPage {
		t.Helper()
		page, err := db.Calls(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	day2 := day.Add(48 * time.Hour)
	page := list(store.CallFilter{Filter: hepvault.Filter{From: day, To: day2}})
	want := []string{"c1", "c2", "c3", "c4", "c5", "late", "midnight"}
	if got := listedIDs(page.Calls); !slices.Equal(got, want) || page.Next != nil {
		t.Fatalf("unexpected calls; got %v (next %v); want %v", got, page.Next, want)
	}
	byID := map[string][]hepvault.Packet{}
	for _, p := range append(all, late...) {
		byID[p.CallID] = append(byID[p.CallID], p)
	}
	for _, c := range page.Calls {
		w := callflow.Summarize(byID[c.CallID])
		if c.State != w.State || c.FinalStatus != w.FinalStatus || c.Packets != w.Packets || !c.StartedAt.Equal(w.StartedAt) ||
			c.HasDuration != w.HasDuration || c.Duration != w.Duration {
			t.Fatalf("unexpected summary of %s;\ngot  %+v\nwant %+v", c.CallID, c, w)
		}
	}
	if c := page.Calls[6]; c.State != callflow.StateAnswered || c.Packets != 6 || !c.HasDuration {
		t.Fatalf("unexpected call across midnight: %+v", c)
	}
	if c := page.Calls[5]; c.State != callflow.StateNoAnswer || c.Packets != 3 {
		t.Fatalf("unexpected call stored out of order: %+v", c)
	}

	// Paging: each call once, in order.
	var paged []string
	f := store.CallFilter{Filter: hepvault.Filter{From: day, To: day2, Limit: 2}}
	for range 10 {
		page := list(f)
		paged = append(paged, listedIDs(page.Calls)...)
		if page.Next == nil {
			break
		}
		f.After = page.Next
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("unexpected calls paged by 2; got %v; want %v", paged, want)
	}

	fl := func(name string, f store.CallFilter, want ...string) {
		t.Helper()
		f.From, f.To = day, day2
		if got := listedIDs(list(f).Calls); !slices.Equal(got, want) {
			t.Fatalf("%s: unexpected calls; got %v; want %v", name, got, want)
		}
	}
	fl("user with +", store.CallFilter{Filter: hepvault.Filter{User: "+15550001"}}, "c1", "c3", "c5")
	fl("user without +", store.CallFilter{Filter: hepvault.Filter{User: "15550001"}}, "c1", "c3", "c5")
	fl("from_user", store.CallFilter{Filter: hepvault.Filter{FromUser: "15550001"}}, "c1", "c5")
	fl("to_user", store.CallFilter{Filter: hepvault.Filter{ToUser: "+15550001"}}, "c3")
	fl("methods", store.CallFilter{Filter: hepvault.Filter{Methods: []string{"REGISTER", "OPTIONS"}}}, "c2", "c4")
	fl("ip", store.CallFilter{Filter: hepvault.Filter{IPs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}}, "c1", "c5")
	fl("capture_id", store.CallFilter{Filter: hepvault.Filter{CaptureIDs: []uint32{4242}}}, want...)
	fl("other capture_id", store.CallFilter{Filter: hepvault.Filter{CaptureIDs: []uint32{1}}})
	fl("state", store.CallFilter{States: []callflow.State{callflow.StateBusy, callflow.StateCancelled}}, "c3", "c5")
	fl("status", store.CallFilter{Statuses: []int{200}}, "c1", "c2", "c4", "midnight")
	fl("state and method", store.CallFilter{Filter: hepvault.Filter{Methods: []string{"INVITE"}}, States: []callflow.State{callflow.StateAnswered}}, "c1", "midnight")
	// A window that ends before the call across midnight starts, and
	// one that starts after it started.
	if got := listedIDs(list(store.CallFilter{Filter: hepvault.Filter{From: day.Add(5 * time.Second), To: day.Add(time.Hour)}}).Calls); !slices.Equal(got, []string{"c5", "late"}) {
		t.Fatalf("unexpected calls of a narrow window; got %v", got)
	}
	if got := listedIDs(list(store.CallFilter{Filter: hepvault.Filter{From: day.Add(24 * time.Hour), To: day2}}).Calls); len(got) != 0 {
		t.Fatalf("unexpected calls after midnight; got %v; want none (the call started the day before)", got)
	}
}
