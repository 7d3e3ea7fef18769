package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// dayPartitions lists the day partitions of packet_blocks, oldest first.
func dayPartitions(t *testing.T, dsn string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT inhrelid::regclass::text FROM pg_inherits
		WHERE inhparent = 'packet_blocks'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func partName(at time.Time) string { return "packet_blocks_p" + at.UTC().Format("20060102") }

// callIDs returns the Call-IDs of every stored packet, sorted.
func callIDs(t *testing.T, db *store.DB) []string {
	t.Helper()
	pkts, _, err := db.Packets(context.Background(), hepvault.Filter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pkts {
		ids = append(ids, p.CallID)
	}
	slices.Sort(ids)
	return ids
}

func TestRetention_DropExpired(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	now := time.Now().UTC()
	const horizon = 5 * 24 * time.Hour
	cutoff := now.Add(-horizon)
	// The day of the cutoff is only partly past the horizon: it stays.
	gone := []time.Time{now.Add(-10 * 24 * time.Hour), now.Add(-6*24*time.Hour - time.Hour)}
	if gone[1].Add(24 * time.Hour).Before(cutoff.Truncate(24 * time.Hour)) {
		t.Fatal("test days chosen wrongly")
	}
	kept := []time.Time{cutoff.Add(time.Minute), now.Add(-2 * 24 * time.Hour), now}
	var pkts []hepvault.Packet
	for i, at := range append(slices.Clone(gone), kept...) {
		pkts = append(pkts, packet(at, hepvault.KindRequest, "INVITE", 0, "call-"+string(rune('a'+i))))
	}
	write(t, db, pkts...)
	if err := db.EnsurePartitions(ctx, now); err != nil {
		t.Fatal(err)
	}
	// A recording's metadata of a dropped day goes with it; a kept day's stays.
	rconn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer rconn.Close(ctx)
	for i, at := range []time.Time{gone[0], kept[1]} {
		if _, err := rconn.Exec(ctx, `INSERT INTO recording_messages (call_id, captured_at, packet_id, method, cseq)
			VALUES ($1, $2, $3, 'INVITE', 1)`, fmt.Sprintf("rec-%d", i), at, i); err != nil {
			t.Fatal(err)
		}
	}

	// A writer goes on storing today's packets while the days are dropped.
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var writeErr error
	var written int
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := store.NewWriter(db, store.DefaultWriterConfig())
		for wctx.Err() == nil {
			p := packet(time.Now().UTC(), hepvault.KindRequest, "OPTIONS", 0, "live")
			if err := w.WriteBatch(ctx, []hepvault.Packet{p}); err != nil {
				writeErr = err
				return
			}
			written++
		}
	}()
	r := store.NewRetention(db, store.RetentionConfig{Horizon: horizon})
	n, err := r.DropExpired(ctx, now)
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if writeErr != nil || written == 0 {
		t.Fatalf("unexpected writer outcome during the drop; got %d written, err %v; want some, no error", written, writeErr)
	}
	if n != 2 || r.Stats().DroppedDays[store.DropRetention] != 2 {
		t.Fatalf("unexpected days dropped; got %d (counted %d); want 2", n, r.Stats().DroppedDays[store.DropRetention])
	}
	parts := dayPartitions(t, dsn)
	for _, at := range gone {
		if slices.Contains(parts, partName(at)) {
			t.Fatalf("unexpected partition left; got %v; want %s gone", parts, partName(at))
		}
	}
	for _, at := range kept {
		if !slices.Contains(parts, partName(at)) {
			t.Fatalf("unexpected partitions; got %v; want %s kept", parts, partName(at))
		}
	}
	var recs []string
	if err := rconn.QueryRow(ctx, `SELECT coalesce(array_agg(call_id ORDER BY call_id), '{}') FROM recording_messages`).Scan(&recs); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs, []string{"rec-1"}) {
		t.Fatalf("unexpected recording messages after the drop; got %v; want [rec-1]", recs)
	}
	ids := slices.DeleteFunc(callIDs(t, db), func(s string) bool { return s == "live" })
	if want := []string{"call-c", "call-d", "call-e"}; !slices.Equal(ids, want) {
		t.Fatalf("unexpected packets after the drop; got %v; want %v", ids, want)
	}
	// Nothing more to drop; a write for a dropped day makes its partition again.
	if n, err := r.DropExpired(ctx, now); n != 0 || err != nil {
		t.Fatalf("unexpected second drop; got %d, %v; want 0, nil", n, err)
	}
	write(t, db, packet(gone[0], hepvault.KindRequest, "BYE", 0, "late"))
}

func TestRetention_WriterRefusesPastHorizon(t *testing.T) {
	db := openDB(t)
	now := time.Now().UTC()
	r := store.NewRetention(db, store.RetentionConfig{Horizon: 24 * time.Hour})
	w := store.NewWriter(db, store.WriterConfig{Retention: r})
	in := make(chan hepvault.Packet, 10)
	in <- packet(now.Add(-25*time.Hour), hepvault.KindRequest, "INVITE", 0, "old-1")
	in <- packet(now.Add(-3*24*time.Hour), hepvault.KindRequest, "INVITE", 0, "old-2")
	in <- packet(now.Add(-time.Hour), hepvault.KindRequest, "INVITE", 0, "new")
	close(in)
	if err := w.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Expired != 2 || st.Stored != 1 || st.DiskFull != 0 {
		t.Fatalf("unexpected counts; got expired %d, stored %d, disk_full %d; want 2, 1, 0", st.Expired, st.Stored, st.DiskFull)
	}
	if ids := callIDs(t, db); !slices.Equal(ids, []string{"new"}) {
		t.Fatalf("unexpected stored packets; got %v; want [new]", ids)
	}
}

// With an external database the guard compares what the database uses with
// --max-db-size: a size below it is short whatever is dropped.
func TestRetention_DiskGuardDropsOldestThenPauses(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var pkts []hepvault.Packet
	for d := 3; d >= 0; d-- {
		pkts = append(pkts, packet(now.Add(-time.Duration(d)*24*time.Hour), hepvault.KindRequest, "INVITE", 0, "day-"+string(rune('0'+d))))
	}
	write(t, db, pkts...)
	size := int64(1) // short however much is dropped
	r := store.NewRetention(db, store.RetentionConfig{MaxDBSize: 1 << 40, MinFreeBytes: 1 << 40, SpoolBytes: func() int64 { return size }})
	if err := r.CheckDisk(ctx, now); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if st.DroppedDays[store.DropDisk] != 3 || !st.Paused || !strings.Contains(st.Detail, "only today's partition") {
		t.Fatalf("unexpected guard state; got dropped %d, paused %v, detail %q; want 3, true, only today's partition", st.DroppedDays[store.DropDisk], st.Paused, st.Detail)
	}
	if ids := callIDs(t, db); !slices.Equal(ids, []string{"day-0"}) {
		t.Fatalf("unexpected packets left; got %v; want [day-0]", ids)
	}
	if parts := dayPartitions(t, dsn); !slices.Contains(parts, partName(now)) || slices.Contains(parts, partName(now.Add(-24*time.Hour))) {
		t.Fatalf("unexpected partitions; got %v; want today's kept, yesterday's gone", parts)
	}

	// Paused: the writer drops every packet; a straggler of a dropped day
	// is refused as well once writing resumes.
	w := store.NewWriter(db, store.WriterConfig{Retention: r})
	run := func(pkts ...hepvault.Packet) store.WriterStats {
		in := make(chan hepvault.Packet, len(pkts))
		for _, p := range pkts {
			in <- p
		}
		close(in)
		if err := w.Run(ctx, in); err != nil {
			t.Fatal(err)
		}
		return w.Stats()
	}
	if st := run(packet(now, hepvault.KindRequest, "BYE", 0, "paused")); st.DiskFull != 1 || st.Stored != 0 {
		t.Fatalf("unexpected counts while paused; got disk_full %d, stored %d; want 1, 0", st.DiskFull, st.Stored)
	}
	r2 := store.NewRetention(db, store.RetentionConfig{MaxDBSize: 1 << 40, MinFreeBytes: 1 << 20})
	if err := r2.CheckDisk(ctx, now); err != nil || r2.Stats().Paused {
		t.Fatalf("unexpected guard with space; got paused %v, err %v; want running", r2.Stats().Paused, err)
	}
	size = -(1 << 40) // the spool "freed" everything: space is back
	if err := r.CheckDisk(ctx, now); err != nil {
		t.Fatal(err)
	}
	if r.Stats().Paused {
		t.Fatal("unexpected guard state; got paused; want writing again once space is back")
	}
	st2 := run(packet(now, hepvault.KindRequest, "BYE", 0, "resumed"),
		packet(now.Add(-2*24*time.Hour), hepvault.KindRequest, "BYE", 0, "straggler"))
	if st2.DiskFull != 2 || st2.Stored != 1 {
		t.Fatalf("unexpected counts after resuming; got disk_full %d, stored %d; want 2, 1", st2.DiskFull, st2.Stored)
	}
	if ids := callIDs(t, db); !slices.Equal(ids, []string{"day-0", "resumed"}) {
		t.Fatalf("unexpected packets; got %v; want [day-0 resumed]", ids)
	}
}

// While Run's loop is held up, the watcher alone stops writing once the
// space is under a quarter of the minimum, and only then.
func TestRetention_WatcherPausesWhileHeldUp(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	spool := int64(0)
	// 1 TiB allowed, 400 GiB kept free: free space is 1 TiB minus what the
	// (small) database and the spool take.
	r := store.NewRetention(db, store.RetentionConfig{MaxDBSize: 1 << 40, MinFreeBytes: 400 << 30, SpoolBytes: func() int64 { return spool }})
	f := func(spoolBytes int64, held time.Duration, want bool) {
		t.Helper()
		spool = spoolBytes
		r.WatchHeldUp(ctx, held)
		if got := r.Paused(); got != want {
			t.Fatalf("unexpected pause with %d GiB spooled, loop held %s; got %v; want %v", spoolBytes>>30, held, got, want)
		}
	}
	f(700<<30, 5*time.Second, false) // 324 GiB free: short, but above a quarter
	f(950<<30, 0, false)             // 74 GiB free, the loop not held up: it drops days
	f(950<<30, 5*time.Second, true)
	if st := r.Stats(); !st.Paused || !strings.Contains(st.Detail, "while a drop is under way") {
		t.Fatalf("unexpected stats; got %+v; want paused, saying why", st)
	}
	f(950<<30, 0, false) // the loop free again: it takes over
	f(950<<30, 5*time.Second, true)
	f(100<<30, 5*time.Second, false) // space back
}
