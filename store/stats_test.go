package store_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// packetStats is how SQL over the packets view counts what statistics
// count, per dimension, minute and key: the reference the statistics are
// checked against.
const packetStats = `
SELECT dim, date_bin('1 minute', captured_at, '1970-01-01 00:00:00+00') AS minute, key, count(*)
FROM packets,
     LATERAL (VALUES
        ('kind', CASE kind WHEN 1 THEN 'request' WHEN 2 THEN 'response' ELSE 'invalid' END),
        ('method', CASE WHEN kind = 1 THEN method END),
        ('status', CASE WHEN kind = 2 THEN status_code::text END),
        ('status_class', CASE WHEN kind = 2 AND status_code BETWEEN 100 AND 699 THEN (status_code / 100)::text || 'xx' END),
        ('capture_id', capture_id::text),
        ('pair', coalesce(host(src_ip), '-') || ' > ' || coalesce(host(dst_ip), '-'))
     ) AS d(dim, key)
WHERE key IS NOT NULL
GROUP BY 1, 2, 3`

// countsOf runs sql, whose rows are (dim, time, key, count), and returns
// the counts by "dim time key".
func countsOf(t *testing.T, dsn, sql string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	var (
		dim, key string
		at       time.Time
		n        int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&dim, &at, &key, &n}, func() error {
		out[dim+" "+at.UTC().Format(time.RFC3339)+" "+key] += n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// apiCounts reads every dimension through Stats at step over [from, to).
func apiCounts(t *testing.T, db *store.DB, from, to time.Time, step time.Duration) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, dim := range hepvault.StatsDims() {
		series, err := db.Stats(context.Background(), hepvault.StatsQuery{From: from, To: to, Step: step, By: dim})
		if err != nil {
			t.Fatalf("Stats by %s: %v", dim, err)
		}
		for _, s := range series {
			for _, p := range s.Points {
				if p.T.Location() != time.UTC {
					t.Fatalf("unexpected point time zone; got %v; want UTC", p.T.Location())
				}
				if p.Count != 0 {
					out[string(dim)+" "+p.T.Format(time.RFC3339)+" "+s.Key] += p.Count
				}
			}
		}
	}
	return out
}

// rebin sums counts keyed "dim time key" per step.
func rebin(t *testing.T, m map[string]int64, step time.Duration) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for k, v := range m {
		dim, rest, _ := strings.Cut(k, " ")
		at, key, _ := strings.Cut(rest, " ")
		tm, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		out[dim+" "+tm.Truncate(step).Format(time.RFC3339)+" "+key] += v
	}
	return out
}

func sameCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: no counts to compare", what)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Fatalf("%s: unexpected count of %q; got %d; want %d", what, k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s: unexpected count of %q; got %d; want none", what, k, got[k])
		}
	}
}

// checkStats checks that statistics, through the stats_minutes view and
// Stats at every step, count what the packets view holds in [from, to).
func checkStats(t *testing.T, db *store.DB, dsn string, from, to time.Time) {
	t.Helper()
	want := countsOf(t, dsn, packetStats)
	sameCounts(t, "stats_minutes", countsOf(t, dsn, `SELECT dim, minute, key, count FROM stats_minutes`), want)
	for _, step := range hepvault.StatsSteps() {
		sameCounts(t, "Stats at "+step.String(), apiCounts(t, db, from.Truncate(step), to.Add(step-1).Truncate(step), step), rebin(t, want, step))
	}
}

var (
	statMethods  = []string{"INVITE", "ACK", "BYE", "REGISTER", "OPTIONS", "CANCEL"}
	statStatuses = []int{100, 180, 183, 200, 401, 404, 486, 487, 503, 603}
	statAddrs    = []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
		netip.MustParseAddr("2001:db8::7"), {}}
)

// variedPackets returns n packets from start, one every gap, of every
// kind, several methods, statuses, capture agents and address pairs.
func variedPackets(start time.Time, gap time.Duration, n int) []hepvault.Packet {
	pkts := make([]hepvault.Packet, n)
	for i := range pkts {
		at := start.Add(time.Duration(i) * gap)
		switch i % 7 {
		case 0, 2, 4:
			pkts[i] = packet(at, hepvault.KindRequest, statMethods[i%len(statMethods)], 0, fmt.Sprintf("c%d", i))
		case 6:
			pkts[i] = packet(at, hepvault.KindInvalid, "", 0, fmt.Sprintf("c%d", i))
			pkts[i].InvalidReason = "no SIP start line"
		default:
			pkts[i] = packet(at, hepvault.KindResponse, "", statStatuses[i%len(statStatuses)], fmt.Sprintf("c%d", i))
		}
		pkts[i].CaptureID = uint32(100 + i%3)
		pkts[i].SrcIP, pkts[i].DstIP = statAddrs[i%4], statAddrs[(i/4)%4]
	}
	return pkts
}

// TestStats_CountWhatIsStored writes packets over minutes across a
// midnight, in batches out of order, then again, whole or overlapping, and
// checks the statistics against the packets view before and after the
// fold.
func TestStats_CountWhatIsStored(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 24, 23, 57, 10, 0, time.UTC)
	pkts := variedPackets(start, 1700*time.Millisecond, 300) // to 00:05:40
	w := store.NewWriter(db, store.DefaultWriterConfig())
	batches := [][]hepvault.Packet{pkts[100:180], pkts[:100], pkts[180:]}
	for _, b := range batches {
		if err := w.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	from, to := start, start.Add(10*time.Minute)
	checkStats(t, db, dsn, from, to)
	before := countsOf(t, dsn, `SELECT dim, minute, key, count FROM stats_minutes`)

	// Written again, whole or overlapping, by every path: nothing counts twice.
	if err := w.WriteBatch(ctx, batches[0]); err != nil {
		t.Fatal(err)
	}
	if n, err := w.WriteBatchOnce(ctx, batches[1]); err != nil || n != 0 {
		t.Fatalf("unexpected WriteBatchOnce; got %d, %v; want 0, nil", n, err)
	}
	if n, err := w.WriteBatchOnce(ctx, pkts[150:250]); err != nil || n != 0 {
		t.Fatalf("unexpected WriteBatchOnce; got %d, %v; want 0, nil", n, err)
	}
	sameCounts(t, "written again", countsOf(t, dsn, `SELECT dim, minute, key, count FROM stats_minutes`), before)

	if err := db.FoldStats(ctx, to.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var deltas int
	if err := queryRow(t, dsn, `SELECT count(*) FROM stats_delta`).Scan(&deltas); err != nil {
		t.Fatal(err)
	}
	if deltas != 0 {
		t.Fatalf("unexpected delta rows after the fold; got %d; want 0", deltas)
	}
	checkStats(t, db, dsn, from, to)

	// Packets arriving late for folded minutes, and new ones, folded or not.
	late := variedPackets(start.Add(30*time.Second), 2300*time.Millisecond, 200)
	for i := range late {
		late[i].ID += 1 << 30
	}
	// Half with stored packets, then all: the stored ones skipped, the
	// blocks of the first half skipped, the others counted.
	mixed := append(slices.Clone(late[:100]), pkts[:50]...)
	if n, err := w.WriteBatchOnce(ctx, mixed); err != nil || n != 100 {
		t.Fatalf("unexpected WriteBatchOnce; got %d, %v; want 100, nil", n, err)
	}
	if err := w.WriteBatch(ctx, late); err != nil {
		t.Fatal(err)
	}
	checkStats(t, db, dsn, from, to)
	if err := db.FoldStats(ctx, start.Add(4*time.Minute)); err != nil { // part of them
		t.Fatal(err)
	}
	checkStats(t, db, dsn, from, to)
	if err := db.FoldStats(ctx, to.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkStats(t, db, dsn, from, to)
}

// TestStats_TopPairs writes one minute with more address pairs than a
// minute keeps: the fold keeps the most frequent, counts the rest as
// other, and the totals stay.
func TestStats_TopPairs(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	minute := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const pairs = store.TopPairs + 10
	var pkts []hepvault.Packet
	total := 0
	for i := range pairs {
		for j := 0; j <= i; j++ { // pair i: i+1 packets
			p := packet(minute.Add(time.Duration(total)*50*time.Millisecond), hepvault.KindRequest, "OPTIONS", 0, "x")
			p.SrcIP = netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
			pkts = append(pkts, p)
			total++
		}
	}
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
		t.Fatal(err)
	}
	q := hepvault.StatsQuery{From: minute, To: minute.Add(time.Minute), Step: time.Minute, By: hepvault.StatsPair}
	check := func(when string) {
		t.Helper()
		series, err := db.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(series) != store.TopPairs+1 {
			t.Fatalf("%s: unexpected series; got %d; want %d", when, len(series), store.TopPairs+1)
		}
		sum := int64(0)
		for k, s := range series[:store.TopPairs] {
			i := pairs - 1 - k // the most frequent first
			want := fmt.Sprintf("10.1.0.%d > 2001:db8::2", i)
			if s.Key != want || s.Points[0].Count != int64(i+1) {
				t.Fatalf("%s: unexpected series %d; got %s %d; want %s %d", when, k, s.Key, s.Points[0].Count, want, i+1)
			}
			sum += s.Points[0].Count
		}
		other := series[store.TopPairs]
		wantOther := int64(total) - sum
		if other.Key != hepvault.StatsOther || other.Points[0].Count != wantOther {
			t.Fatalf("%s: unexpected last series; got %s %d; want other %d", when, other.Key, other.Points[0].Count, wantOther)
		}
	}
	check("before the fold")
	if err := db.FoldStats(ctx, minute.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("after the fold")
	for _, table := range []string{"stats_minute", "stats_hour", "stats_day"} {
		var keys int
		var sum int64
		err := queryRow(t, dsn, `SELECT cardinality(keys), (SELECT sum(c) FROM unnest(counts) c) FROM `+table+` WHERE dim = 'pair'`).Scan(&keys, &sum)
		if err != nil {
			t.Fatal(err)
		}
		if keys != store.TopPairs+1 || sum != int64(total) {
			t.Fatalf("%s: unexpected pair row; got %d keys, %d packets; want %d, %d", table, keys, sum, store.TopPairs+1, total)
		}
	}
	// Other dimensions keep every key.
	want := countsOf(t, dsn, packetStats)
	got := countsOf(t, dsn, `SELECT dim, minute, key, count FROM stats_minutes WHERE dim <> 'pair'`)
	for k := range want {
		if strings.HasPrefix(k, "pair ") {
			delete(want, k)
		}
	}
	sameCounts(t, "other dimensions", got, want)
}

// TestStats_DropBefore deletes statistics older than a time at every level.
func TestStats_DropBefore(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	old := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := store.NewWriter(db, store.DefaultWriterConfig())
	for _, at := range []time.Time{old, recent} {
		if err := w.WriteBatch(ctx, variedPackets(at, time.Second, 20)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.FoldStats(ctx, recent.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBatch(ctx, variedPackets(old.Add(10*time.Minute), time.Second, 5)); err != nil { // unfolded
		t.Fatal(err)
	}
	if err := db.DropStatsBefore(ctx, recent.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT count(*) FROM stats_delta`, `SELECT count(*) FROM stats_minute WHERE minute < '2026-11-01'`,
		`SELECT count(*) FROM stats_hour WHERE hour < '2026-11-01'`, `SELECT count(*) FROM stats_day WHERE day < '2026-11-01'`,
	} {
		var n int
		if err := queryRow(t, dsn, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%s: got %d; want 0", q, n)
		}
	}
	got := apiCounts(t, db, recent.Truncate(day), recent.Truncate(day).Add(day), day)
	want := rebin(t, countsOf(t, dsn, packetStats+` HAVING min(captured_at) >= '2026-11-01'`), day)
	sameCounts(t, "kept", got, want)
}

const day = 24 * time.Hour

// queryRow runs one query on its own connection.
func queryRow(t *testing.T, dsn, sql string) pgx.Row {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn.QueryRow(context.Background(), sql)
}

func TestCheckStatsQuery_Failure(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f := func(q hepvault.StatsQuery, want string) {
		t.Helper()
		err := store.CheckStatsQuery(q)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("unexpected error; got %v; want one saying %q", err, want)
		}
	}
	ok := hepvault.StatsQuery{From: at, To: at.Add(time.Hour), Step: time.Minute, By: hepvault.StatsMethod}
	if err := store.CheckStatsQuery(ok); err != nil {
		t.Fatalf("unexpected error; got %v; want nil", err)
	}
	bad := ok
	bad.Step = 2 * time.Minute
	f(bad, "step must be")
	bad = ok
	bad.By = "user"
	f(bad, "unknown statistics dimension")
	bad = ok
	bad.To = at
	f(bad, "must be after")
	bad = ok
	bad.From = at.Add(time.Second)
	f(bad, "multiples of the step")
	bad = ok
	bad.To = at.Add(20000 * time.Minute)
	f(bad, "at most 10000")
}
