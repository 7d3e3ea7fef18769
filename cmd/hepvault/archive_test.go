package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
)

// shifted returns the capture's HEP packets with every capture time moved
// so that the first is at first.
func shifted(t *testing.T, recs []fixture.Record, first time.Time) [][]byte {
	t.Helper()
	var d hep.Decoder
	delta := first.Unix() - int64(recs[0].Truth.TsSec)
	out := make([][]byte, len(recs))
	for i, r := range recs {
		var p hep.Packet
		if err := d.Decode(r.Datagram, &p); err != nil {
			t.Fatalf("fixture frame %d: %v", r.Truth.Frame, err)
		}
		p.TsSec = uint32(int64(p.TsSec) + delta)
		out[i] = hep.AppendV3(nil, &p)
	}
	return out
}

// TestArchive_DayMovesAndAnswersStay: the Kamailio capture's day
// (2026-11-25) is stored with a later copy of another capture on a recent
// day; a hepvault with --archive-db and --archive-after 1d moves the old
// day to a second PostgreSQL. A fixed set of API queries (windows and
// pages over both days, a Call-ID, filters, calls, text, pcap) and the SQL
// view answer byte for byte as before; the day's local storage is gone; a
// late packet of that day is written through into the archive; and
// retention drops the day in both databases.
func TestArchive_DayMovesAndAnswersStay(t *testing.T) {
	archive, err := launchPostgres(postgresDir(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { archive.Stop(context.Background()) })
	primary := storetest.NewDatabase(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	hep3, hep2 := fixture.Load(t, fixture.HEP3), fixture.Load(t, fixture.HEP2)
	recent := shifted(t, hep2, time.Now().Add(-2*time.Hour))
	cfg := serveConfig{
		DB: primary, HEPUDP: "127.0.0.1:0", HEPTCP: "", HTTP: "127.0.0.1:0",
		ShutdownTimeout: 20 * time.Second, SpoolDir: t.TempDir(), SpoolMaxBytes: 1 << 30,
	}
	s, err := startServer(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	sendUDPInStep(t, s, hep3)
	for _, b := range recent {
		sendUDPInStep(t, s, []fixture.Record{{Datagram: b}})
	}
	waitUntil(t, 20*time.Second, "both captures stored", func() bool { return storedInDB(t, primary) == len(hep3)+len(recent) })

	oldDay := "packet_blocks_p20261125"
	callID := hep3[len(hep3)/2].Truth.CallID
	_, next := getPackets(t, s, "limit=100")
	day := "from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z"
	queries := []string{
		"/api/v1/packets?limit=10000",
		"/api/v1/packets?limit=100&cursor=" + url.QueryEscape(next),
		"/api/v1/packets?" + day + "&limit=50",
		"/api/v1/packets?from=2026-11-25T12:31:55Z&limit=20&format=text",
		"/api/v1/packets?call_id=" + url.QueryEscape(callID),
		"/api/v1/packets?method=INVITE,BYE&limit=200",
		"/api/v1/packets?status_class=4xx,5xx,6xx&kind=response&limit=200",
		"/api/v1/packets?user=bob&limit=200",
		"/api/v1/packets?ip=127.0.0.1&capture_id=4242&limit=300",
		"/api/v1/packets?text=Ringing&" + day,
		"/api/v1/calls?from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&limit=1000",
		"/api/v1/calls?" + day + "&state=busy,cancelled,failed",
		"/api/v1/calls/" + url.PathEscape(callID),
		"/api/v1/calls/" + url.PathEscape(callID) + "?format=pcap",
	}
	const viewSQL = `SELECT count(*)::text || ' ' || md5(string_agg(captured_at::text || id || raw::text, ',' ORDER BY captured_at, id)) FROM packets`
	sqlText := func(dsn, sql string) string {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var out string
		if err := conn.QueryRow(ctx, sql).Scan(&out); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}
	before := map[string][]byte{}
	for _, q := range queries {
		before[q] = getBody(t, s.url(q))
	}
	viewBefore := sqlText(primary, viewSQL)
	localBefore := sqlCount(t, primary, `SELECT pg_total_relation_size($1::regclass)::int`, oldDay)
	if localBefore == 0 {
		t.Fatalf("%s takes no space before the move", oldDay)
	}
	if err := s.shutdown(); err != nil {
		t.Fatal(err)
	}

	// The same database, now with an archive: its leader moves the day.
	s2 := startTestServerWith(t, func(c *serveConfig) {
		c.DB, c.Cluster.ArchiveDB, c.Cluster.ArchiveAfter = primary, archive.DSN(), 24*time.Hour
	})
	waitUntil(t, 30*time.Second, "the old day moved", func() bool {
		if st := s2.archiver.Stats(); st.Err != "" {
			t.Fatalf("moving the old day failed: %s", st.Err)
		}
		return s2.archiver.Stats().Moved == 1
	})
	t.Logf("moved the day of %d packets in %.3f s", len(hep3), s2.archiver.Stats().LastTook.Seconds())
	if kind := sqlText(primary, `SELECT relkind::text FROM pg_class WHERE relname = '`+oldDay+`'`); kind != "f" {
		t.Fatalf("unexpected kind of %s after the move; got %q; want a foreign table", oldDay, kind)
	}
	if n := sqlCount(t, primary, `SELECT pg_total_relation_size($1::regclass)::int`, oldDay); n != 0 {
		t.Fatalf("unexpected local size of the moved day; got %d bytes; want 0 (was %d)", n, localBefore)
	}
	if n := sqlCount(t, archive.DSN(), `SELECT sum(count)::int FROM `+oldDay); n != len(hep3) {
		t.Fatalf("unexpected packets in the archive; got %d; want %d", n, len(hep3))
	}
	// The moved day seals and verifies through the archive (images of
	// blocks PostgreSQL fetched through postgres_fdw).
	func() {
		dcfg := store.DefaultConfig()
		dcfg.DSN = primary
		db, err := store.Open(ctx, dcfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.SealDays(ctx, time.Now(), store.SealConfig{After: time.Hour}); err != nil {
			t.Fatal(err)
		}
		d0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
		rep, err := db.Verify(ctx, store.VerifyOptions{From: d0, To: d0.Add(24 * time.Hour)})
		if err != nil || !rep.OK() || rep.Packets != int64(len(hep3)) || rep.SealedDays != 1 {
			t.Fatalf("unexpected verify of the moved day; got %+v, %v; want no difference, %d packets, 1 sealed day", rep, err, len(hep3))
		}
	}()
	recentDay := "packet_blocks_p" + time.Now().Add(-2*time.Hour).UTC().Format("20060102")
	if kind := sqlText(primary, `SELECT relkind::text FROM pg_class WHERE relname = '`+recentDay+`'`); kind != "r" {
		t.Fatalf("unexpected kind of the recent day %s; got %q; want it left here", recentDay, kind)
	}
	for _, q := range queries {
		if after := getBody(t, s2.url(q)); !bytes.Equal(after, before[q]) {
			t.Fatalf("%s: answer changed with the day in the archive:\nbefore %.400s\nafter  %.400s", q, before[q], after)
		}
	}
	if after := sqlText(primary, viewSQL); after != viewBefore {
		t.Fatalf("the packets view changed with the day in the archive; got %s; want %s", after, viewBefore)
	}

	// A late packet of the archived day goes through to the archive.
	sendUDPInStep(t, s2, hep3[:1])
	waitUntil(t, 20*time.Second, "the late packet in the archive", func() bool {
		return sqlCount(t, archive.DSN(), `SELECT sum(count)::int FROM `+oldDay) == len(hep3)+1
	})

	// Retention is the whole store's: the day leaves here, then there.
	r := store.NewRetention(s2.db, store.RetentionConfig{Horizon: 24 * time.Hour})
	if n, err := r.DropExpired(ctx, time.Now()); err != nil || n < 1 {
		t.Fatalf("retention: dropped %d days (%v); want the archived one at least", n, err)
	}
	a, err := store.NewArchiver(s2.db, store.ArchiveConfig{DSN: archive.DSN(), After: 24 * time.Hour, Horizon: 24 * time.Hour, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.MoveExpired(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if a.Stats().Dropped < 1 || sqlCount(t, archive.DSN(), `SELECT count(*) FROM pg_class WHERE relname = $1`, oldDay) != 0 {
		t.Fatalf("the archived day past the retention is still in the archive (dropped %d)", a.Stats().Dropped)
	}
	if n := sqlCount(t, primary, `SELECT count(*) FROM packets WHERE captured_at < '2026-11-26'`); n != 0 {
		t.Fatalf("unexpected packets of the dropped day; got %d; want 0", n)
	}
}
