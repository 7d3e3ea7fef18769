package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// A stored packet reads back with the fields it was written with, whatever
// its payload says: the store never parses Raw again, so a changed SIP
// parser cannot change what is read back. Here the fields disagree with
// Raw on purpose; the store, its filters and SQL all give the stored ones.
func TestStoredFields_NotParsedAgain(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	p := packet(at, hepvault.KindRequest, "INVITE", 0, "stored-call")
	p.FromUser, p.ToUser, p.RURIUser, p.PAIUser = "alice", "carol", "dave", "+49 30 7741528"
	p.FromURI, p.CSeq, p.UserAgent = "sip:alice@a.example", 42, "stored agent"
	p.Raw = []byte("INVITE sip:erin@e.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKraw\r\n" +
		"From: <sip:bob@b.example>;tag=raw\r\nTo: <sip:frank@f.example>\r\nCall-ID: raw-call\r\nCSeq: 1 INVITE\r\n" +
		"P-Asserted-Identity: <sip:mallory@m.example>\r\nUser-Agent: raw agent\r\nContent-Length: 0\r\n\r\n")
	write(t, db, p)

	got, _, err := db.Packets(ctx, hepvault.Filter{CallID: "stored-call", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], p) {
		t.Fatalf("unexpected packets for the stored Call-ID;\ngot  %+v\nwant %+v", got, p)
	}
	for _, f := range []hepvault.Filter{
		{FromUser: "alice"}, {ToUser: "carol"}, {RURIUser: "dave"}, {User: "+49-30-7741528"}, {User: "alice"},
	} {
		if got, _, err := db.Packets(ctx, f); err != nil || len(got) != 1 {
			t.Fatalf("filter %+v of stored values: unexpected %d packets, err %v; want 1", f, len(got), err)
		}
	}
	for _, f := range []hepvault.Filter{
		{CallID: "raw-call"}, {FromUser: "bob"}, {ToUser: "frank"}, {RURIUser: "erin"}, {User: "mallory"}, {User: "bob"},
	} {
		if got, _, err := db.Packets(ctx, f); err != nil || len(got) != 0 {
			t.Fatalf("filter %+v of values only Raw holds: unexpected %d packets, err %v; want none", f, len(got), err)
		}
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var callID, fromUser, userAgent string
	var cseq int64
	if err := conn.QueryRow(ctx, `SELECT call_id, from_user, user_agent, cseq FROM packets`).Scan(&callID, &fromUser, &userAgent, &cseq); err != nil {
		t.Fatal(err)
	}
	if callID != "stored-call" || fromUser != "alice" || userAgent != "stored agent" || cseq != 42 {
		t.Fatalf("unexpected fields through SQL; got %q %q %q %d; want the stored ones", callID, fromUser, userAgent, cseq)
	}
}

// PostgreSQL reads the blocks hepvault writes: the packets view and
// packets_between give every column of a packet as it was written, absent
// values as NULL.
func TestPacketsView_EveryColumn(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	full := hepvault.Packet{
		ID: 1<<62 + 7, CapturedAt: at, ReceivedAt: at.Add(1500 * time.Microsecond), CaptureID: 4294967295,
		HEPVersion: 3, ProtoType: 1, CorrelationID: "corr-\x00-1",
		SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 65535, DstIP: netip.MustParseAddr("2001:db8::2"), DstPort: 5060,
		Transport: hepvault.TransportTCP, Kind: hepvault.KindResponse, InvalidReason: "none",
		Method: "INVITE", RequestURI: "sip:+49-30-7741528@x", StatusCode: 486, Reason: "Busy \xff Here",
		CallID: "view-call", CSeq: 4294967295, CSeqMethod: "INVITE", FromURI: "sip:alice@x", FromTag: "ft",
		FromUser: "alice", ToURI: "tel:+49-30-7741528", ToTag: "tt", ToUser: "+49-30-7741528", RURIUser: "49307741528",
		PAIUser: "+49 30 7741528", ViaBranch: "z9hG4bKv", UserAgent: "ua", Contact: "<sip:alice@10.0.0.1>",
		ContentType: "application/sdp", Raw: []byte("\x00\x01\xff raw bytes"),
	}
	empty := hepvault.Packet{ID: 8, CapturedAt: at.Add(time.Millisecond), Raw: []byte{}}
	write(t, db, full, empty)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const cols = `captured_at, id, received_at, capture_id, hep_version, proto_type, correlation_id,
		host(src_ip), src_port, host(dst_ip), dst_port, transport, kind, invalid_reason, method, request_uri,
		status_code, reason, call_id, cseq, cseq_method, from_uri, from_tag, from_user, to_uri, to_tag, to_user,
		ruri_user, pai_user, via_branch, user_agent, contact, content_type, raw`
	type row struct {
		capturedAt, receivedAt                                        time.Time
		id, captureID                                                 int64
		hepVersion, protoType, transport, kind                        int16
		srcPort, dstPort                                              int32
		correlationID, srcIP, dstIP, invalidReason, method, uri       *string
		status                                                        *int16
		cseq                                                          *int64
		reason, callID, cseqMethod, fromURI, fromTag, fromUser, toURI *string
		toTag, toUser, ruriUser, paiUser, via, ua, contact, ctype     *string
		raw                                                           []byte
	}
	read := func(sql string, args ...any) []row {
		t.Helper()
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.capturedAt, &r.id, &r.receivedAt, &r.captureID, &r.hepVersion, &r.protoType, &r.correlationID,
				&r.srcIP, &r.srcPort, &r.dstIP, &r.dstPort, &r.transport, &r.kind, &r.invalidReason, &r.method, &r.uri,
				&r.status, &r.reason, &r.callID, &r.cseq, &r.cseqMethod, &r.fromURI, &r.fromTag, &r.fromUser, &r.toURI,
				&r.toTag, &r.toUser, &r.ruriUser, &r.paiUser, &r.via, &r.ua, &r.contact, &r.ctype, &r.raw); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	s := func(v string) *string { return &v }
	i2 := func(v int16) *int16 { return &v }
	i8 := func(v int64) *int64 { return &v }
	want := []row{{
		capturedAt: at.Truncate(time.Microsecond), receivedAt: at.Add(1500 * time.Microsecond).Truncate(time.Microsecond),
		id: 1<<62 + 7, captureID: 4294967295, hepVersion: 3, protoType: 1, transport: 6, kind: 2, srcPort: 65535, dstPort: 5060,
		correlationID: s("corr-\uFFFD-1"), srcIP: s("10.0.0.1"), dstIP: s("2001:db8::2"), invalidReason: s("none"),
		method: s("INVITE"), uri: s("sip:+49-30-7741528@x"), status: i2(486), cseq: i8(4294967295),
		reason: s("Busy \uFFFD Here"), callID: s("view-call"), cseqMethod: s("INVITE"), fromURI: s("sip:alice@x"),
		fromTag: s("ft"), fromUser: s("alice"), toURI: s("tel:+49-30-7741528"), toTag: s("tt"), toUser: s("+49-30-7741528"),
		ruriUser: s("49307741528"), paiUser: s("+49 30 7741528"), via: s("z9hG4bKv"), ua: s("ua"),
		contact: s("<sip:alice@10.0.0.1>"), ctype: s("application/sdp"), raw: full.Raw,
	}, {
		capturedAt: at.Add(time.Millisecond).Truncate(time.Microsecond), receivedAt: time.Time{}, id: 8, raw: []byte{},
	}}
	for _, q := range []struct {
		name string
		rows []row
	}{
		{"packets", read(`SELECT ` + cols + ` FROM packets ORDER BY captured_at, id`)},
		{"packets_between", read(`SELECT `+cols+` FROM packets_between($1, $2) ORDER BY captured_at, id`,
			at.Add(-time.Second), at.Add(time.Second))},
	} {
		if len(q.rows) != len(want) {
			t.Fatalf("%s: unexpected %d rows; want %d", q.name, len(q.rows), len(want))
		}
		for i := range want {
			g, w := q.rows[i], want[i]
			if !g.capturedAt.Equal(w.capturedAt) || !g.receivedAt.Equal(w.receivedAt) {
				t.Fatalf("%s row %d: unexpected times; got %v, %v; want %v, %v", q.name, i, g.capturedAt, g.receivedAt, w.capturedAt, w.receivedAt)
			}
			g.capturedAt, g.receivedAt, w.capturedAt, w.receivedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%s row %d: unexpected columns;\ngot  %s\nwant %s", q.name, i, showRow(g), showRow(w))
			}
		}
	}
	// packets_between takes [lo, hi): the first packet alone.
	if n := len(read(`SELECT `+cols+` FROM packets_between($1, $2)`, at.Truncate(time.Microsecond), at.Add(time.Millisecond))); n != 1 {
		t.Fatalf("packets_between of the first millisecond: unexpected %d rows; want 1", n)
	}
	got, _, err := db.Packets(ctx, hepvault.Filter{Limit: 10})
	if err != nil || len(got) != 2 {
		t.Fatalf("unexpected packets; got %d, err %v", len(got), err)
	}
	if got[1].Raw == nil || len(got[1].Raw) != 0 {
		t.Fatalf("unexpected Raw of an empty payload; got %#v; want empty, not nil", got[1].Raw)
	}
}

// showRow prints a row, its pointers as the values they point to.
func showRow(r any) string {
	v := reflect.ValueOf(r)
	var b strings.Builder
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Pointer && f.IsNil():
			fmt.Fprintf(&b, "%s:NULL ", v.Type().Field(i).Name)
		case f.Kind() == reflect.Pointer:
			fmt.Fprintf(&b, "%s:%q ", v.Type().Field(i).Name, fmt.Sprint(f.Elem()))
		default:
			fmt.Fprintf(&b, "%s:%q ", v.Type().Field(i).Name, fmt.Sprint(f))
		}
	}
	return b.String()
}

// packets_between finds every packet of its window, however long after its
// block's first packet it was captured: the SQL's reach back must cover a
// block's longest span.
func TestPacketsBetween_EveryPacket(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	var pkts []hepvault.Packet
	for i := range 60 { // 15 s, a packet every 250 ms: blocks as long as they may be
		pkts = append(pkts, packet(at.Add(time.Duration(i)*250*time.Millisecond+time.Duration(i)*time.Microsecond),
			hepvault.KindRequest, "OPTIONS", 0, "between"))
	}
	write(t, db, pkts...)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var blocks, longest int64
	if err := conn.QueryRow(ctx, `SELECT count(*), max(extract(epoch FROM last_at - first_at) * 1000)::bigint FROM packet_blocks`).Scan(&blocks, &longest); err != nil {
		t.Fatal(err)
	}
	if blocks < 2 || longest < 1000 {
		t.Fatalf("unexpected %d blocks, the longest %d ms: want several, over a second long", blocks, longest)
	}
	for _, p := range pkts {
		var ids []int64
		rows, err := conn.Query(ctx, `SELECT id FROM packets_between($1, $2)`, p.CapturedAt, p.CapturedAt.Add(time.Microsecond))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != p.ID {
			t.Fatalf("packets_between of the microsecond of packet %d (captured %v): unexpected ids %v", p.ID, p.CapturedAt, ids)
		}
	}
}
