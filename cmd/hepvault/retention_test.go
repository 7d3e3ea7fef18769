package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
)

func TestParseHorizon_Success(t *testing.T) {
	f := func(in string, want time.Duration) {
		t.Helper()
		got, err := parseHorizon(in)
		if err != nil || got != want {
			t.Fatalf("unexpected horizon of %q; got %v, %v; want %v", in, got, err, want)
		}
	}
	f("0", 0)
	f("", 0)
	f("90d", 90*24*time.Hour)
	f("36h", 36*time.Hour)
	f("2y", 2*365*24*time.Hour)
	f(" 1d", 24*time.Hour)
}

func TestParseHorizon_Failure(t *testing.T) {
	f := func(in string) {
		t.Helper()
		if got, err := parseHorizon(in); err == nil {
			t.Fatalf("unexpected success for %q; got %v", in, got)
		}
	}
	f("90")
	f("90m")
	f("-1d")
	f("0d")
	f("1.5d")
	f("d")
	f("101y")
}

func TestMinFree(t *testing.T) {
	f := func(in string, want minFree, wantErr bool) {
		t.Helper()
		var got minFree
		err := got.Set(in)
		if (err != nil) != wantErr || (!wantErr && got != want) {
			t.Fatalf("unexpected --min-free-disk %q; got %+v, %v; want %+v (error %v)", in, got, err, want, wantErr)
		}
	}
	f("10%", minFree{Fraction: 0.1}, false)
	f("2G", minFree{Bytes: 2 << 30}, false)
	f("0", minFree{}, false)
	f("100%", minFree{}, true)
	f("-5%", minFree{}, true)
	f("lots", minFree{}, true)
}

func TestServe_RetentionFlagsFailure(t *testing.T) {
	f := func(args []string, environ map[string]string, wantInErr string) {
		t.Helper()
		var errOut bytes.Buffer
		getenv := func(k string) string { return environ[k] }
		err := run(context.Background(), append([]string{"serve"}, args...), getenv, &errOut, &errOut)
		if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), wantInErr) {
			t.Fatalf("serve %v %v: unexpected error; got %v; want a usage error saying %q", args, environ, err, wantInErr)
		}
	}
	f([]string{"--retention", "90m"}, nil, "bad retention")
	f([]string{"--min-free-disk", "200%"}, nil, "bad share")
	f(nil, map[string]string{"HEPVAULT_RETENTION": "soon"}, "HEPVAULT_RETENTION")
	f(nil, map[string]string{"HEPVAULT_MIN_FREE_DISK": "x"}, "HEPVAULT_MIN_FREE_DISK")
}

// writeDays stores one packet per day ago in days (Call-ID day-N) straight
// into dsn's database.
func writeDays(t *testing.T, dsn string, now time.Time, days ...int) {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var pkts []hepvault.Packet
	for i, d := range days {
		at := now.Add(-time.Duration(d) * 24 * time.Hour)
		pkts = append(pkts, hepvault.Packet{ID: int64(i + 1), CapturedAt: at, ReceivedAt: at, HEPVersion: 3, ProtoType: 1,
			Kind: hepvault.KindRequest, Method: "OPTIONS", CallID: "day-" + strconv.Itoa(d), Raw: []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")})
	}
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(context.Background(), pkts); err != nil {
		t.Fatal(err)
	}
}

// Days past the horizon go at start; newer ones, and the packets in them,
// stay; packets captured past the horizon are counted, not stored.
func TestServe_Retention(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	now := time.Now().UTC()
	writeDays(t, dsn, now, 9, 8, 2, 1)
	s := startTestServerWith(t, func(c *serveConfig) {
		c.DB = dsn
		c.Retention.Horizon = 3 * 24 * time.Hour
	})
	waitMetric(t, s, `hepvault_retention_dropped_partitions_total{reason="retention"}`, 2)
	if got := metric(t, s, `hepvault_retention_dropped_partitions_total{reason="disk"}`); got != 0 {
		t.Fatalf("unexpected days dropped for disk; got %d; want 0", got)
	}
	got, _ := getPackets(t, s, "limit=100")
	var ids []string
	for _, p := range got {
		ids = append(ids, p.CallID)
	}
	if strings.Join(ids, ",") != "day-2,day-1" {
		t.Fatalf("unexpected packets after retention; got %v; want [day-2 day-1]", ids)
	}
	// The statistics of the dropped days outlive their packets.
	q := url.Values{"from": {now.Add(-10 * 24 * time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)},
		"step": {"1d"}, "by": {"method"}}
	resp, err := http.Get(s.url("/api/v1/stats?" + q.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Series []struct {
			Key    string
			Points []struct {
				T     time.Time
				Count int64
			}
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: status %d, %v", resp.StatusCode, err)
	}
	var dropped, kept int64
	for _, sr := range st.Series {
		for _, pt := range sr.Points {
			if sr.Key != "OPTIONS" {
				t.Fatalf("unexpected series %q in the stats", sr.Key)
			}
			if pt.T.Before(now.Add(-3 * 24 * time.Hour).Truncate(24 * time.Hour)) {
				dropped += pt.Count
			} else {
				kept += pt.Count
			}
		}
	}
	if dropped != 2 || kept != 2 {
		t.Fatalf("unexpected OPTIONS counted by day after retention; got %d in dropped days and %d in kept ones; want 2 and 2", dropped, kept)
	}

	conn, err := net.Dial("udp", s.col.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	old := hepTrafficAt("old", 5, now.Add(-4*24*time.Hour), time.Second)
	fresh := hepTrafficAt("fresh", 3, now.Add(-time.Minute), time.Second)
	for _, b := range append(old, fresh...) {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	waitMetric(t, s, `hepvault_retention_refused_total{reason="expired"}`, 5)
	waitStored(t, s, 5)
	if rows, _ := countCalls(t, dsn, "old"); rows != 0 {
		t.Fatalf("unexpected packets past the horizon stored; got %d; want 0", rows)
	}
	resp, err = http.Get(s.url("/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unexpected /readyz; got %s; want 200 with retention only", resp.Status)
	}
}

func TestImport_RetentionRefusesOldCapture(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	file := filepath.Join(fixture.Dir(t), fixture.SIPPcap)
	want := 0
	for _, m := range fixture.LoadTSV(t, fixture.SIPPcap) {
		if m.Time.Before(time.Now().Add(-24 * time.Hour)) {
			want++
		}
	}
	if want == 0 {
		t.Fatal("the fixture has no message older than a day")
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"import", "--db", dsn, "--retention", "1d", file}, func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if got := summaryCount(t, out.String(), "refused (expired)"); got != want {
		t.Fatalf("unexpected refused count; got %d; want %d\n%s", got, want, out.String())
	}
	if got := summaryCount(t, out.String(), "stored (new)"); got+want != summaryCount(t, out.String(), "SIP messages") {
		t.Fatalf("unexpected stored count; got %d with %d refused\n%s", got, want, out.String())
	}
	if !strings.Contains(errOut.String(), strconv.Itoa(want)+" packets refused") || !strings.Contains(errOut.String(), "--retention 1d") {
		t.Fatalf("unexpected message; got %q; want the count refused and the retention", errOut.String())
	}
	if got := storedInDB(t, dsn); got != summaryCount(t, out.String(), "stored (new)") {
		t.Fatalf("unexpected packets in the database; got %d", got)
	}
	// A horizon that covers the capture refuses nothing.
	out.Reset()
	if err := run(context.Background(), []string{"import", "--db", dsn, "--retention", "36500d", file}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if got := summaryCount(t, out.String(), "refused (expired)"); got != 0 {
		t.Fatalf("unexpected refused count with a long retention; got %d; want 0", got)
	}
	if got := storedInDB(t, dsn); got != summaryCount(t, out.String(), "SIP messages") {
		t.Fatalf("unexpected packets in the database after the second import; got %d; want every message", got)
	}
}
