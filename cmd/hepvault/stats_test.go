package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
)

// TestStats_Table runs `hepvault stats` against a running hepvault that
// received the HEP3 fixture and checks each cell of its table against SQL
// over the packets view.
func TestStats_Table(t *testing.T) {
	s := startTestServer(t)
	recs := fixture.Load(t, fixture.HEP3)
	sendUDP(t, s.col.UDPAddr(), recs)
	waitStored(t, s, len(recs))
	first := sqlCount(t, s.cfg.DB, `SELECT extract(epoch FROM min(captured_at))::int FROM packets`)
	last := sqlCount(t, s.cfg.DB, `SELECT extract(epoch FROM max(captured_at))::int + 1 FROM packets`)
	lo, hi := time.Unix(int64(first), 0).UTC(), time.Unix(int64(last), 0).UTC()

	var out, errOut bytes.Buffer
	args := []string{"stats", "--server", s.url(""), "--from", lo.Format(time.RFC3339), "--to", hi.Format(time.RFC3339), "--step", "1m", "--by", "method"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("stats: %v: %s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	head := strings.Fields(lines[0])
	if len(lines) < 2 || len(head) < 3 || head[0] != "time" {
		t.Fatalf("unexpected table; want a header of time and at least two methods, and rows:\n%s", out.String())
	}
	total := 0
	for _, line := range lines[1:] {
		cells := strings.Fields(line)
		if len(cells) != len(head) {
			t.Fatalf("row %q: unexpected cells; got %d; want %d", line, len(cells), len(head))
		}
		at, err := time.Parse(time.RFC3339, cells[0])
		if err != nil || at.Second() != 0 {
			t.Fatalf("row %q: time not a whole minute: %v", line, err)
		}
		for i, method := range head[1:] {
			got, err := strconv.Atoi(cells[i+1])
			if err != nil {
				t.Fatal(err)
			}
			want := sqlCount(t, s.cfg.DB, `SELECT count(*) FROM packets WHERE kind = 1 AND method = $1 AND captured_at >= $2 AND captured_at < $3`,
				method, at, at.Add(time.Minute))
			if got != want {
				t.Fatalf("%s at %s: unexpected count; got %d; want %d", method, cells[0], got, want)
			}
			total += got
		}
	}
	if want := sqlCount(t, s.cfg.DB, `SELECT count(*) FROM packets WHERE kind = 1`); total != want {
		t.Fatalf("unexpected requests in the table; got %d; want %d", total, want)
	}
}

func TestStats_Usage(t *testing.T) {
	f := func(args ...string) {
		t.Helper()
		err := run(context.Background(), append([]string{"stats", "--server", "http://127.0.0.1:1"}, args...), func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("%q: unexpected error; got %v; want a usage error", args, err)
		}
	}
	f("--to", "2026-11-25T13:00:00Z", "--by", "kind")
	f("--from", "2026-11-25T12:00:00Z", "--by", "kind")
	f("--from", "2026-11-25T12:00:00Z", "--to", "2026-11-25T13:00:00Z")
	f("--from", "noon", "--to", "2026-11-25T13:00:00Z", "--by", "kind")
}

func TestParseStatsRetention_Success(t *testing.T) {
	f := func(s string, want time.Duration) {
		t.Helper()
		got, err := parseStatsRetention(s)
		if err != nil || got != want {
			t.Fatalf("%q: unexpected duration; got %v, %v; want %v", s, got, err, want)
		}
	}
	f("2y", 2*365*24*time.Hour)
	f("90d", 90*24*time.Hour)
	f("720h", 720*time.Hour)
}

func TestParseStatsRetention_Failure(t *testing.T) {
	f := func(s string) {
		t.Helper()
		if got, err := parseStatsRetention(s); err == nil {
			t.Fatalf("%q: unexpected duration; got %v; want an error", s, got)
		}
	}
	f("")
	f("0")
	f("0d")
	f("1h30m")
	f("-1y")
	f("2 years")
	f("1y6m")
	f("0")
	f("999999999y")
}

// TestServe_KeepsStats checks that serve, at start, deletes statistics past
// --stats-retention and folds those of closed minutes, leaving packets.
func TestServe_KeepsStats(t *testing.T) {
	now := time.Now().UTC()
	s := startTestServerWith(t, func(cfg *serveConfig) {
		ctx := context.Background()
		scfg := store.DefaultConfig()
		scfg.DSN = cfg.DB
		db, err := store.Open(ctx, scfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var pkts []hepvault.Packet
		for i, at := range []time.Time{now.Add(-72 * time.Hour), now.Add(-5 * time.Minute)} {
			pkts = append(pkts, hepvault.Packet{ID: int64(i + 1), CapturedAt: at, ReceivedAt: at, Kind: hepvault.KindRequest,
				Method: "OPTIONS", SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"), Raw: []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")})
		}
		if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
			t.Fatal(err)
		}
		cfg.StatsRetention = 48 * time.Hour
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		deltas := sqlCount(t, s.cfg.DB, `SELECT count(*) FROM stats_delta`)
		old := sqlCount(t, s.cfg.DB, `SELECT count(*) FROM stats_minutes WHERE minute < now() - interval '48 hours'`)
		folded := sqlCount(t, s.cfg.DB, `SELECT count(*) FROM stats_minute WHERE dim = 'method'`)
		if deltas == 0 && old == 0 && folded == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unexpected statistics after start; got %d delta rows, %d old, %d folded method rows; want 0, 0, 1", deltas, old, folded)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := storedInDB(t, s.cfg.DB); n != 2 {
		t.Fatalf("unexpected packets; got %d; want 2 (statistics retention deletes no packet)", n)
	}
}
