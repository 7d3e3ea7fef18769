package store

import (
	"context"
	"io/fs"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/migrations"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
)

func openRaw(t *testing.T) (*DB, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.DSN = storetest.NewDatabase(t)
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return db, conn
}

// migrationsBefore returns the embedded migrations older than version.
func migrationsBefore(t *testing.T, version string) fs.FS {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	for _, n := range names {
		if n < version {
			b, _ := fs.ReadFile(migrations.FS, n)
			m[n] = &fstest.MapFile{Data: b}
		}
	}
	return m
}

const inviteRaw = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx1\r\n" +
	"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: mig-1@10.0.0.1\r\n" +
	"CSeq: 7 INVITE\r\nUser-Agent: phone\r\nContent-Length: 0\r\n\r\n"

// Rows stored before the compact table read back the same after it.
func TestMigrateCompact_KeepsStoredRows(t *testing.T) {
	db, conn := openRaw(t)
	ctx := context.Background()
	if _, err := db.migrate(ctx, migrationsBefore(t, "0004")); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	// The partition store made for a day before blocks.
	if _, err := conn.Exec(ctx, `CREATE TABLE packets_p`+day.Format("20060102")+` PARTITION OF packets FOR VALUES FROM ('`+
		day.Format(time.RFC3339)+`') TO ('`+day.Add(24*time.Hour).Format(time.RFC3339)+`')`); err != nil {
		t.Fatal(err)
	}
	at := day.Add(time.Hour)
	old := day.AddDate(-1, 0, 0) // lands in the default partition
	// The old layout stored every field as a column, NULL for "".
	_, err := conn.Exec(ctx, `INSERT INTO packets (captured_at, id, received_at, capture_id, hep_version, proto_type,
		transport, src_ip, src_port, dst_ip, dst_port, kind, method, request_uri, call_id, cseq, cseq_method,
		from_uri, from_tag, to_uri, via_branch, user_agent, raw) VALUES
		($1, 1, $1, 4242, 3, 1, 17, '10.0.0.1', 5060, '10.0.0.2', 5060, 1, 'INVITE', 'sip:bob@example.com',
		 'mig-1@10.0.0.1', 7, 'INVITE', 'sip:alice@example.com', 'a1', 'sip:bob@example.com', 'z9hG4bKx1', 'phone', $2),
		($3, 2, $3, 7, 2, 1, 6, '2001:db8::1', 5062, '2001:db8::2', 5060, 1, 'INVITE', 'sip:other', 'not-what-raw-says',
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, $2)`, at, []byte(inviteRaw), old)
	if err != nil {
		t.Fatal(err)
	}
	// What the old layout read back: NULL was "".
	before := []hepvault.Packet{{
		ID: 2, CapturedAt: old, ReceivedAt: old, CaptureID: 7, HEPVersion: 2, ProtoType: 1, Transport: hepvault.TransportTCP,
		SrcIP: netip.MustParseAddr("2001:db8::1"), SrcPort: 5062, DstIP: netip.MustParseAddr("2001:db8::2"), DstPort: 5060,
		Kind: hepvault.KindRequest, Method: "INVITE", RequestURI: "sip:other", CallID: "not-what-raw-says", Raw: []byte(inviteRaw),
	}, {
		ID: 1, CapturedAt: at, ReceivedAt: at, CaptureID: 4242, HEPVersion: 3, ProtoType: 1, Transport: hepvault.TransportUDP,
		SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 5060, DstIP: netip.MustParseAddr("10.0.0.2"), DstPort: 5060,
		Kind: hepvault.KindRequest, Method: "INVITE", RequestURI: "sip:bob@example.com", CallID: "mig-1@10.0.0.1",
		CSeq: 7, CSeqMethod: "INVITE", FromURI: "sip:alice@example.com", FromTag: "a1", ToURI: "sip:bob@example.com",
		ViaBranch: "z9hG4bKx1", UserAgent: "phone", Raw: []byte(inviteRaw),
		HeadersFromRaw: true, // every stored field is what raw says, so the blocks store none
	}}
	done, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) == 0 || done[len(done)-1] < 5 {
		t.Fatalf("unexpected migrations applied; got %v", done)
	}
	after, _, err := db.Packets(ctx, hepvault.Filter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("unexpected packets after migrating;\ngot  %+v\nwant %+v", after, before)
	}
	for _, id := range []string{"mig-1@10.0.0.1", "not-what-raw-says"} {
		got, err := db.Call(ctx, id)
		if err != nil || len(got) != 1 || got[0].CallID != id {
			t.Fatalf("unexpected call %q after migrating; got %+v, err %v", id, got, err)
		}
	}
	var parts []string
	rows, _ := conn.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'packet_blocks'::regclass AND EXISTS (SELECT FROM packet_blocks b WHERE b.tableoid = c.oid)
		ORDER BY 1`)
	parts, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0] != "packet_blocks_default" || !strings.HasPrefix(parts[1], "packet_blocks_p") {
		t.Fatalf("unexpected partitions holding the moved packets; got %v", parts)
	}
	var left bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('packets') IS NOT NULL`).Scan(&left); err != nil || left {
		t.Fatalf("the packets table is still there after its rows moved (err %v)", err)
	}
}

// storedHeaderMasks returns, per packet id, which header fields its block
// stores (block.go): 0 when every one is parsed from raw on read.
func storedHeaderMasks(t *testing.T, conn *pgx.Conn) map[int64]uint64 {
	t.Helper()
	rows, _ := conn.Query(context.Background(), `SELECT data FROM packet_blocks ORDER BY first_at, first_id`)
	blocks, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	masks := map[int64]uint64{}
	for _, b := range blocks {
		d := newBlockDecoder(b)
		d.keysOnly = true
		var p hepvault.Packet
		for d.next(&p) {
			masks[p.ID] = d.mask
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	}
	return masks
}

// Packets the collector builds store none of their header fields: they are
// parsed from raw on read. A field that differs from raw is stored.
func TestWrite_HeaderFieldsStoredOnlyWhenRawDisagrees(t *testing.T) {
	db, conn := openRaw(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	p := hepvault.Packet{
		ID: 1, CapturedAt: at, ReceivedAt: at, CaptureID: 1, HEPVersion: 3, ProtoType: 1, Transport: hepvault.TransportUDP,
		SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 5060, DstIP: netip.MustParseAddr("10.0.0.2"), DstPort: 5060,
		Kind: hepvault.KindRequest, Method: "INVITE", RequestURI: "sip:bob@example.com", CallID: "mig-1@10.0.0.1",
		CSeq: 7, CSeqMethod: "INVITE", FromURI: "sip:alice@example.com", FromTag: "a1", ToURI: "sip:bob@example.com",
		ViaBranch: "z9hG4bKx1", UserAgent: "phone", Raw: []byte(inviteRaw),
	}
	q := p
	q.ID, q.FromTag, q.CSeq, q.UserAgent = 2, "changed", 8, ""
	if err := NewWriter(db, DefaultWriterConfig()).WriteBatch(ctx, []hepvault.Packet{p, q}); err != nil {
		t.Fatal(err)
	}
	// From tag (bit 5), User-Agent (bit 9) and CSeq of packet 2.
	if got, want := storedHeaderMasks(t, conn), map[int64]uint64{1: 0, 2: 1<<5 | 1<<9 | cseqBit}; !reflect.DeepEqual(got, want) {
		t.Fatalf("unexpected stored header fields; got %b; want %b", got, want)
	}
	got, _, err := db.Packets(ctx, hepvault.Filter{CallID: p.CallID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	p.HeadersFromRaw = true // read back from raw alone
	if len(got) != 2 || !reflect.DeepEqual(got[0], p) || !reflect.DeepEqual(got[1], q) {
		t.Fatalf("unexpected packets;\ngot  %+v\nwant %+v\n     %+v", got, p, q)
	}
}

// PostgreSQL's spelling of CallHash finds the same rows.
func TestCallHash_SameInSQL(t *testing.T) {
	_, conn := openRaw(t)
	for _, id := range []string{"a84b4c76e66710@pc33.example.com", "x", "ünïcode-ID", "3c26700b-1f8d-4a11-9e4f-8b0fbd1c2d3e"} {
		var got int64
		err := conn.QueryRow(context.Background(), `SELECT ('x' || left(md5($1::text), 16))::bit(64)::bigint`, id).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if want := CallHash(id); got != want {
			t.Errorf("unexpected SQL hash of %q; got %d; want %d", id, got, want)
		}
	}
}

// Two Call-IDs with the same hash: the lookup returns only the one asked
// for, and still the number of packets asked for.
func TestCall_HashCollision(t *testing.T) {
	db, conn := openRaw(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	var pkts []hepvault.Packet
	for i := range 6 {
		callID := "wanted"
		if i%2 == 0 {
			callID = "other" // packets 0, 2, 4
		}
		raw := "OPTIONS sip:x SIP/2.0\r\nCall-ID: " + callID + "\r\n\r\n"
		// A block each (blocks span under a second), so that a block holds
		// "other" alone and its hash can be changed below.
		pkts = append(pkts, hepvault.Packet{ID: int64(i + 1), CapturedAt: at.Add(time.Duration(i) * 1100 * time.Millisecond),
			ReceivedAt: at, HEPVersion: 3, ProtoType: 1, Transport: hepvault.TransportUDP, Kind: hepvault.KindRequest,
			SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
			Method: "OPTIONS", RequestURI: "sip:x", CallID: callID, Raw: []byte(raw)})
	}
	if err := NewWriter(db, DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
		t.Fatal(err)
	}
	// Make "other" collide with "wanted".
	tag, err := conn.Exec(ctx, `UPDATE packet_blocks SET calls = ARRAY[$1::bigint] WHERE calls = ARRAY[$2::bigint]`,
		CallHash("wanted"), CallHash("other"))
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("unexpected update of the call hashes: %v, err %v", tag, err)
	}
	f := func(limit int, wantIDs []int64, wantMore bool) {
		t.Helper()
		got, more, err := db.Packets(ctx, hepvault.Filter{CallID: "wanted", Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, p := range got {
			ids = append(ids, p.ID)
		}
		if !reflect.DeepEqual(ids, wantIDs) || more != wantMore {
			t.Fatalf("unexpected packets for limit %d; got %v more=%v; want %v more=%v", limit, ids, more, wantIDs, wantMore)
		}
	}
	f(1, []int64{2}, true)
	f(2, []int64{2, 4}, true)
	f(3, []int64{2, 4, 6}, false)
	f(10, []int64{2, 4, 6}, false)
}

// Odd messages as the collector builds them read back as they were built
// (text fields made valid UTF-8, as a text column always made them), with
// no header column stored: the re-parse on read gives what ingest parsed.
func TestWrite_CollectorPacketsReadBackFromRaw(t *testing.T) {
	db, conn := openRaw(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := map[string]string{
		"folded": "INVITE sip:bob@x SIP/2.0\r\nFrom: <sip:alice@x>\r\n ;tag=fold1\r\nCall-ID: folded-1\r\n" +
			"Subject: a\r\n b\r\nCSeq: 1 INVITE\r\n\r\n",
		"broken header": "SIP/2.0 180 Ringing\r\nCall-ID: broken-1\r\nCSeq: 4 INVITE\r\nNoColonHere\r\nTo: <sip:b@x>;tag=t\r\n\r\n",
		"not sip":       "\x16\x03\x01 definitely not SIP",
		"invalid utf-8": "OPTIONS sip:x SIP/2.0\r\nCall-ID: utf\xff8\r\nUser-Agent: caf\xe9 \x00phone\r\nCSeq: 2 OPTIONS\r\n\r\n",
		"bad cseq":      "BYE sip:x SIP/2.0\r\nCall-ID: cseq-1\r\nCSeq: many BYE\r\n\r\n",
	}
	at := time.Now().UTC().Truncate(time.Second)
	var in []hepvault.Packet
	var m sip.Message
	i := 0
	for name, raw := range msgs {
		i++
		hp := hep.Packet{Version: 3, Proto: 17, ProtoType: 1, SrcIP: netip.MustParseAddr("10.0.0.1"),
			DstIP: netip.MustParseAddr("10.0.0.2"), SrcPort: 5060, DstPort: 5060,
			TsSec: uint32(at.Unix()) + uint32(i), Payload: []byte(raw)}
		p := collector.Build(&hp, &m, sip.Parse(hp.Payload, &m), at, int64(i))
		if !p.HeadersFromRaw {
			t.Fatalf("%s: collector.Build left HeadersFromRaw unset: the store would parse the packet again", name)
		}
		if name == "folded" && p.FromTag != "fold1" {
			t.Fatalf("unexpected From tag %q: the folded case no longer tests a folded header", p.FromTag)
		}
		in = append(in, p)
	}
	if err := NewWriter(db, DefaultWriterConfig()).WriteBatch(ctx, in); err != nil {
		t.Fatal(err)
	}
	for id, mask := range storedHeaderMasks(t, conn) {
		if mask != 0 {
			t.Errorf("packet %d: unexpected header fields stored (%b)", id, mask)
		}
	}
	got, _, err := db.Packets(ctx, hepvault.Filter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("unexpected %d packets; want %d", len(got), len(in))
	}
	for _, g := range got {
		want := in[g.ID-1]
		for _, f := range []*string{&want.CallID, &want.UserAgent, &want.InvalidReason} {
			*f = cleanText(*f)
		}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("unexpected packet %d;\ngot  %+v\nwant %+v", g.ID, g, want)
		}
	}
}

// A packet marked HeadersFromRaw is stored without a second parse: its
// header columns are NULL even when a field was changed by hand after
// building, which is why only packet builders that parsed Raw may set it.
func TestWrite_HeadersFromRawSkipsTheCheck(t *testing.T) {
	db, conn := openRaw(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	p := hepvault.Packet{ID: 1, CapturedAt: at, ReceivedAt: at, HEPVersion: 3, ProtoType: 1, Kind: hepvault.KindRequest,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		Method: "INVITE", CallID: "not-in-raw", FromTag: "changed", Raw: []byte(inviteRaw)}
	q := p
	q.ID, q.HeadersFromRaw = 2, true
	if err := NewWriter(db, DefaultWriterConfig()).WriteBatch(ctx, []hepvault.Packet{p, q}); err != nil {
		t.Fatal(err)
	}
	if masks := storedHeaderMasks(t, conn); len(masks) != 2 || masks[1] == 0 || masks[2] != 0 {
		t.Fatalf("unexpected stored header fields per packet; got %b; want [>0 0]", masks)
	}
}

// The writer's cleaner empties the call index's pending list, which an
// insert would otherwise merge itself once the list is full.
func TestCleanCallIndexes_EmptiesPendingList(t *testing.T) {
	db, conn := openRaw(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(db, DefaultWriterConfig())
	pendingPages := func() int64 {
		t.Helper()
		// gin_clean_pending_list returns the pages it emptied: asking
		// empties the list too.
		var n int64
		err := conn.QueryRow(ctx, `SELECT coalesce(sum(gin_clean_pending_list(i.indexrelid)), 0)::bigint
			FROM pg_inherits p JOIN pg_index i ON i.indrelid = p.inhrelid
			WHERE p.inhparent = 'packet_blocks'::regclass AND i.indexrelid::regclass::text LIKE '%calls%'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	at := time.Now().UTC()
	batch := func(prefix string) []hepvault.Packet {
		var pkts []hepvault.Packet
		for i := range 300 {
			raw := "OPTIONS sip:x SIP/2.0\r\nCall-ID: " + prefix + strconv.Itoa(i) + "\r\n\r\n"
			pkts = append(pkts, hepvault.Packet{ID: int64(len(prefix)*1000 + i), CapturedAt: at.Add(time.Duration(i) * time.Millisecond),
				ReceivedAt: at, HEPVersion: 3, ProtoType: 1, Kind: hepvault.KindRequest,
				Method: "OPTIONS", RequestURI: "sip:x", CallID: prefix + strconv.Itoa(i), Raw: []byte(raw)})
		}
		return pkts
	}
	if err := w.WriteBatch(ctx, batch("control")); err != nil {
		t.Fatal(err)
	}
	if n := pendingPages(); n == 0 {
		t.Fatal("no pending entries after a write: the test cannot tell cleaning from not")
	}
	if err := w.WriteBatch(ctx, batch("cleaned")); err != nil {
		t.Fatal(err)
	}
	if err := db.cleanCallIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if n := pendingPages(); n != 0 {
		t.Fatalf("unexpected %d pending pages after cleaning; want 0", n)
	}
}
