package store_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// openDB returns a migrated store on a fresh database.
func openDB(t *testing.T) *store.DB {
	db, _ := openDSN(t)
	return db
}

func openDSN(t *testing.T) (*store.DB, string) {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = storetest.NewDatabase(t)
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, cfg.DSN
}

// partitionOf names the partition that holds the packet with this id.
func partitionOf(t *testing.T, dsn string, id int64) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var name string
	if err := conn.QueryRow(context.Background(), `SELECT tableoid::regclass::text FROM packet_blocks WHERE first_id = $1`, id).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

var seq int64

func packet(at time.Time, kind hepvault.Kind, method string, status int, callID string) hepvault.Packet {
	seq++
	p := hepvault.Packet{
		ID: seq, CapturedAt: at, ReceivedAt: at.Add(time.Millisecond), CaptureID: 4242, HEPVersion: 3, ProtoType: 1,
		SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 5060, DstIP: netip.MustParseAddr("2001:db8::2"), DstPort: 5080,
		Transport: hepvault.TransportUDP, Kind: kind, Method: method, StatusCode: status, CallID: callID,
		CSeq: 1, CSeqMethod: "INVITE", FromURI: "sip:a@x", FromTag: "f1", ToURI: "sip:b@x",
	}
	if kind == hepvault.KindResponse {
		p.Reason = "OK"
		p.Raw = []byte("SIP/2.0 200 OK\r\nCall-ID: " + callID + "\r\n\r\n")
	} else {
		p.RequestURI = "sip:b@x"
		p.Raw = []byte(method + " sip:b@x SIP/2.0\r\nCall-ID: " + callID + "\r\n\r\n")
	}
	return p
}

func write(t *testing.T, db *store.DB, pkts ...hepvault.Packet) {
	t.Helper()
	w := store.NewWriter(db, store.DefaultWriterConfig())
	if err := w.WriteBatch(context.Background(), pkts); err != nil {
		t.Fatal(err)
	}
	if got := w.Stats().Stored; got != uint64(len(pkts)) {
		t.Fatalf("unexpected stored count; got %d; want %d", got, len(pkts))
	}
}

func TestMigrate_Twice(t *testing.T) {
	db := openDB(t) // applied once
	again, err := db.Migrate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("unexpected migrations applied a second time: %v", again)
	}
}

func TestWriteAndQuery_RoundTrip(t *testing.T) {
	db := openDB(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	in := packet(now, hepvault.KindRequest, "INVITE", 0, "call-rt")
	in.ViaBranch, in.UserAgent, in.Contact, in.ContentType = "z9hG4bK1", "sipp", "<sip:a@10.0.0.1>", "application/sdp"
	in.CorrelationID = "corr-1"
	in.Raw = []byte("INVITE sip:b@x SIP/2.0\r\nX: \x00\xff\xfe binary\r\n\r\n")
	write(t, db, in)
	got, more, err := db.Packets(context.Background(), hepvault.Filter{CallID: "call-rt", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if more || len(got) != 1 {
		t.Fatalf("unexpected result; got %d packets, more=%v", len(got), more)
	}
	out := got[0]
	if !out.CapturedAt.Equal(in.CapturedAt) || !out.ReceivedAt.Equal(in.ReceivedAt) {
		t.Fatalf("unexpected times; got %v %v; want %v %v", out.CapturedAt, out.ReceivedAt, in.CapturedAt, in.ReceivedAt)
	}
	if string(out.Raw) != string(in.Raw) {
		t.Fatalf("raw not byte for byte; got %q; want %q", out.Raw, in.Raw)
	}
	out.CapturedAt, out.ReceivedAt, out.Raw = in.CapturedAt, in.ReceivedAt, in.Raw
	if out.SrcIP != in.SrcIP || out.DstIP != in.DstIP || out.ViaBranch != in.ViaBranch || out.UserAgent != in.UserAgent ||
		out.Contact != in.Contact || out.ContentType != in.ContentType || out.CorrelationID != in.CorrelationID ||
		out.Method != in.Method || out.RequestURI != in.RequestURI || out.CSeq != in.CSeq || out.CSeqMethod != in.CSeqMethod ||
		out.FromURI != in.FromURI || out.FromTag != in.FromTag || out.ToURI != in.ToURI || out.CaptureID != in.CaptureID ||
		out.SrcPort != in.SrcPort || out.DstPort != in.DstPort || out.Transport != in.Transport || out.ID != in.ID {
		t.Fatalf("unexpected packet;\ngot  %+v\nwant %+v", out, in)
	}
}

func TestWrite_TextThatPostgresRefuses(t *testing.T) {
	db := openDB(t)
	p := packet(time.Now().UTC(), hepvault.KindRequest, "INVITE", 0, "nul\x00call")
	p.UserAgent = "bad \xff utf8"
	write(t, db, p) // a NUL or invalid UTF-8 in a text column must not fail the batch
	got, _, err := db.Packets(context.Background(), hepvault.Filter{CallID: "nul\uFFFDcall", Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("unexpected result; got %d packets, err %v", len(got), err)
	}
	if got[0].UserAgent != "bad \uFFFD utf8" {
		t.Fatalf("unexpected user agent; got %q", got[0].UserAgent)
	}
}

func TestPackets_OrderWindowAndCursor(t *testing.T) {
	db := openDB(t)
	base := time.Now().UTC().Truncate(time.Second)
	var pkts []hepvault.Packet
	// Arrival order differs from capture order, and two packets share a time.
	for _, off := range []int{5, 1, 3, 3, 0, 9, 7} {
		pkts = append(pkts, packet(base.Add(time.Duration(off)*time.Millisecond), hepvault.KindRequest, "OPTIONS", 0, "c"))
	}
	write(t, db, pkts...)
	ctx := context.Background()
	all, more, err := db.Packets(ctx, hepvault.Filter{Limit: 100})
	if err != nil || more || len(all) != len(pkts) {
		t.Fatalf("unexpected listing; got %d, more %v, err %v", len(all), more, err)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if b.CapturedAt.Before(a.CapturedAt) || (b.CapturedAt.Equal(a.CapturedAt) && b.ID < a.ID) {
			t.Fatalf("packets %d and %d out of order: %v/%d then %v/%d", i-1, i, a.CapturedAt, a.ID, b.CapturedAt, b.ID)
		}
	}
	// Window: from inclusive, to exclusive.
	win, _, err := db.Packets(ctx, hepvault.Filter{From: base.Add(3 * time.Millisecond), To: base.Add(7 * time.Millisecond), Limit: 100})
	if err != nil || len(win) != 3 {
		t.Fatalf("unexpected window; got %d packets, err %v; want 3 (3, 3, 5 ms)", len(win), err)
	}
	// Pages of 2 with the cursor give the whole listing, once each.
	var paged []hepvault.Packet
	f := hepvault.Filter{Limit: 2}
	for {
		page, more, err := db.Packets(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if !more {
			break
		}
		last := page[len(page)-1]
		f.After = &hepvault.Position{CapturedAt: last.CapturedAt, ID: last.ID}
	}
	if len(paged) != len(all) {
		t.Fatalf("unexpected paged count; got %d; want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].ID != all[i].ID {
			t.Fatalf("page order differs at %d; got id %d; want %d", i, paged[i].ID, all[i].ID)
		}
	}
}

func TestPackets_Filters(t *testing.T) {
	db := openDB(t)
	at := time.Now().UTC()
	inv := packet(at, hepvault.KindRequest, "INVITE", 0, "f1")
	ok := packet(at.Add(time.Millisecond), hepvault.KindResponse, "", 200, "f1")
	reg := packet(at.Add(2*time.Millisecond), hepvault.KindRequest, "REGISTER", 0, "f2")
	reg.SrcIP, reg.CaptureID = netip.MustParseAddr("192.0.2.9"), 7
	inv.FromUser, inv.ToUser, inv.RURIUser, inv.PAIUser = "alice", "+49 30 7741528", "49307741528", "+4930111"
	inv.CorrelationID = "corr-9"
	ok.FromUser, ok.ToUser = "alice", "+49-30-7741528"
	reg.FromUser, reg.ToUser, reg.RURIUser = "bob", "bob", ""
	write(t, db, inv, ok, reg)
	f := func(name string, filter hepvault.Filter, wantIDs ...int64) {
		t.Helper()
		filter.Limit = 10
		got, _, err := db.Packets(context.Background(), filter)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(wantIDs) {
			t.Fatalf("%s: unexpected count; got %d; want %d", name, len(got), len(wantIDs))
		}
		for i := range got {
			if got[i].ID != wantIDs[i] {
				t.Fatalf("%s: unexpected id at %d; got %d; want %d", name, i, got[i].ID, wantIDs[i])
			}
		}
	}
	ip := netip.MustParseAddr
	f("kind", hepvault.Filter{Kinds: []hepvault.Kind{hepvault.KindResponse}}, ok.ID)
	f("kinds", hepvault.Filter{Kinds: []hepvault.Kind{hepvault.KindResponse, hepvault.KindRequest}}, inv.ID, ok.ID, reg.ID)
	f("method", hepvault.Filter{Methods: []string{"REGISTER"}}, reg.ID)
	f("methods", hepvault.Filter{Methods: []string{"REGISTER", "INVITE"}}, inv.ID, reg.ID)
	f("method none", hepvault.Filter{Methods: []string{"PRACK"}})
	f("status", hepvault.Filter{Statuses: []int{200}}, ok.ID)
	f("statuses", hepvault.Filter{Statuses: []int{486, 200}}, ok.ID)
	f("status none", hepvault.Filter{Statuses: []int{503}})
	f("status_class", hepvault.Filter{StatusClasses: []hepvault.StatusClass{hepvault.ClassOf(200)}}, ok.ID)
	f("status_class none", hepvault.Filter{StatusClasses: []hepvault.StatusClass{hepvault.ClassOf(404)}})
	f("call_id", hepvault.Filter{CallID: "f1"}, inv.ID, ok.ID)
	f("correlation_id", hepvault.Filter{CorrelationID: "corr-9"}, inv.ID)
	f("src_ip", hepvault.Filter{SrcIPs: []netip.Addr{ip("192.0.2.9")}}, reg.ID)
	f("dst_ip", hepvault.Filter{DstIPs: []netip.Addr{ip("2001:db8::2")}}, inv.ID, ok.ID, reg.ID)
	f("ip as source", hepvault.Filter{IPs: []netip.Addr{ip("192.0.2.9")}}, reg.ID)
	f("ip as destination", hepvault.Filter{IPs: []netip.Addr{ip("2001:db8::2")}}, inv.ID, ok.ID, reg.ID)
	f("ip none", hepvault.Filter{IPs: []netip.Addr{ip("192.0.2.99")}})
	f("capture_id", hepvault.Filter{CaptureIDs: []uint32{7}}, reg.ID)
	f("capture_ids", hepvault.Filter{CaptureIDs: []uint32{7, 4242}}, inv.ID, ok.ID, reg.ID)
	f("from_user", hepvault.Filter{FromUser: "alice"}, inv.ID, ok.ID)
	f("to_user number", hepvault.Filter{ToUser: "+49307741528"}, inv.ID, ok.ID)
	f("to_user number, separators", hepvault.Filter{ToUser: "49 (30) 774-1528"}, inv.ID, ok.ID)
	f("to_user name is exact", hepvault.Filter{ToUser: "Bob"})
	f("ruri_user", hepvault.Filter{RURIUser: "+49 30 7741528"}, inv.ID)
	f("user from any", hepvault.Filter{User: "bob"}, reg.ID)
	f("user pai", hepvault.Filter{User: "4930111"}, inv.ID)
	f("user number", hepvault.Filter{User: "+49307741528"}, inv.ID, ok.ID)
	f("user and method", hepvault.Filter{User: "+49307741528", Methods: []string{"INVITE"}}, inv.ID)
	f("text", hepvault.Filter{Text: "REGISTER sip", From: at.Add(-time.Hour), To: at.Add(time.Hour)}, reg.ID)
	// Filter values are parameters, never SQL.
	f("injection call_id", hepvault.Filter{CallID: "f1' OR '1'='1"})
	f("injection method", hepvault.Filter{Methods: []string{"INVITE'; DROP TABLE packets; --"}})
	f("after injection", hepvault.Filter{}, inv.ID, ok.ID, reg.ID)
}

func TestPartitions_AnyDay(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	far := time.Now().UTC().Add(20 * 24 * time.Hour) // beyond the days made ahead
	old := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	p1, p2 := packet(far, hepvault.KindRequest, "BYE", 0, "far"), packet(old, hepvault.KindRequest, "BYE", 0, "old")
	write(t, db, p1, p2)
	f := func(p hepvault.Packet) {
		t.Helper()
		want := "packet_blocks_p" + p.CapturedAt.Format("20060102")
		if got := partitionOf(t, dsn, p.ID); got != want {
			t.Fatalf("unexpected partition for %s; got %s; want %s", p.CapturedAt, got, want)
		}
	}
	f(p1)
	f(p2)
	got, _, err := db.Packets(ctx, hepvault.Filter{Limit: 10})
	if err != nil || len(got) != 2 {
		t.Fatalf("unexpected listing; got %d, err %v; want 2", len(got), err)
	}
}
