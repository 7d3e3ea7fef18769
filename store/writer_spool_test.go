package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/spool"
	"github.com/jackc/pgx/v5"
)

func openSpool(t *testing.T, dir string, maxBytes int64) *spool.Spool {
	t.Helper()
	cfg := spool.DefaultConfig()
	cfg.Dir, cfg.Logger = dir, slog.New(slog.NewTextHandler(io.Discard, nil))
	if maxBytes > 0 {
		cfg.MaxBytes = maxBytes
	}
	sp, err := spool.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// fastWriterConfig retries and spools within a fraction of a second.
func fastWriterConfig(sp *spool.Spool) store.WriterConfig {
	cfg := store.DefaultWriterConfig()
	cfg.BatchSize, cfg.FlushInterval = 50, 10*time.Millisecond
	cfg.RetryInterval, cfg.MaxRetryInterval, cfg.SpoolAfter = 10*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond
	cfg.Spool = sp
	return cfg
}

// runWriter runs w until the test closes in; the returned func closes in
// and returns Run's error.
func runWriter(t *testing.T, w *store.Writer, ctx context.Context) (chan<- hepvault.Packet, func() error) {
	t.Helper()
	in := make(chan hepvault.Packet, 10000)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, in) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		close(in)
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return fmt.Errorf("writer did not stop within 10 s")
		}
	}
	t.Cleanup(func() { stop() })
	return in, stop
}

// calls returns n packets with call ids prefix-0 … prefix-(n-1).
func calls(prefix string, n int) []hepvault.Packet {
	at := time.Now().UTC().Truncate(time.Microsecond)
	pkts := make([]hepvault.Packet, n)
	for i := range pkts {
		pkts[i] = packet(at.Add(time.Duration(i)*time.Microsecond), hepvault.KindRequest, "INVITE", 0, fmt.Sprintf("%s-%d", prefix, i))
	}
	return pkts
}

func send(in chan<- hepvault.Packet, pkts []hepvault.Packet) {
	for _, p := range pkts {
		in <- p
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countStored returns the packets the database holds, a packet stored twice
// counted twice, and their distinct Call-IDs.
func countStored(t *testing.T, dsn string) (rows, distinct int) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Through the packets view, which shows a packet stored twice twice.
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT call_id) FROM packets`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func TestWriter_SpoolsWhileDatabaseAway(t *testing.T) {
	db, proxy, dsn := openProxied(t)
	sp := openSpool(t, t.TempDir(), 0)
	cfg := fastWriterConfig(sp)
	// OnWrite sees every committed write, direct or replayed from the spool.
	var wrote, writes atomic.Int64
	cfg.OnWrite = func(packets int, took time.Duration) {
		if took <= 0 {
			t.Errorf("a write took %v", took)
		}
		wrote.Add(int64(packets))
		writes.Add(1)
	}
	w := store.NewWriter(db, cfg)
	in, stop := runWriter(t, w, context.Background())

	send(in, calls("before", 100))
	waitFor(t, "100 packets stored", func() bool { return w.Stats().Stored == 100 })

	proxy.Cut()
	send(in, calls("during", 500))
	waitFor(t, "500 packets spooled", func() bool { return w.Stats().Spooled == 500 })
	if rows, _ := countStored(t, dsn); rows != 100 {
		t.Fatalf("unexpected rows while the database was away; got %d; want 100", rows)
	}
	if sp.Bytes() == 0 {
		t.Fatal("spool holds no bytes while it holds batches")
	}

	proxy.Restore()
	waitFor(t, "the spool replayed", func() bool { return w.Stats().Stored == 600 && sp.Empty() })
	send(in, calls("after", 100))
	waitFor(t, "700 packets stored", func() bool { return w.Stats().Stored == 700 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if rows, distinct := countStored(t, dsn); rows != 700 || distinct != 700 {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want 700, 700", rows, distinct)
	}
	st := w.Stats()
	if st.Spooled != 500 || st.Replayed != 500 || st.SpoolDropped != [2]uint64{} || st.Rejected != 0 {
		t.Fatalf("unexpected writer stats %+v", st)
	}
	if st.WriteErrors[store.WriteUnavailable] == 0 || st.WriteErrors[store.WriteRefused] != 0 {
		t.Fatalf("unexpected write errors %v; want some unavailable, none refused", st.WriteErrors)
	}
	if wrote.Load() != 700 || uint64(writes.Load()) != st.Batches {
		t.Fatalf("OnWrite saw %d packets in %d writes; want 700 in %d", wrote.Load(), writes.Load(), st.Batches)
	}
	if sp.Bytes() != 0 {
		t.Fatalf("replayed spool keeps %d bytes", sp.Bytes())
	}
	// Statistics count every packet once, live, replayed or retried.
	checkStats(t, db, dsn, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

func TestWriter_SpoolsWhileDatabaseHangs(t *testing.T) {
	db, proxy, dsn := openProxied(t)
	sp := openSpool(t, t.TempDir(), 0)
	cfg := fastWriterConfig(sp)
	cfg.WriteTimeout = 200 * time.Millisecond
	w := store.NewWriter(db, cfg)
	in, stop := runWriter(t, w, context.Background())

	proxy.Stall()
	send(in, calls("hung", 300))
	waitFor(t, "300 packets spooled", func() bool { return w.Stats().Spooled == 300 })
	proxy.Restore()
	waitFor(t, "the spool replayed", func() bool { return sp.Empty() })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if rows, distinct := countStored(t, dsn); rows != 300 || distinct != 300 {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want 300, 300", rows, distinct)
	}
}

func TestWriter_ReplaysSpoolLeftByLastRun(t *testing.T) {
	db, _, dsn := openProxied(t)
	dir := t.TempDir()
	first, second := calls("first", 40), calls("second", 40)
	sp := openSpool(t, dir, 0)
	for _, b := range [][]hepvault.Packet{first[:20], first[20:], second} {
		if err := sp.AppendUnwritten(store.EncodeForSpool(b), len(b)); err != nil { // left by a run that died: replayed as may-be-stored all the same
			t.Fatal(err)
		}
	}
	sp.Close()
	// The last run had written part of the first batch when it died,
	// before it could commit it in the spool.
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(context.Background(), first[:7]); err != nil {
		t.Fatal(err)
	}

	sp = openSpool(t, dir, 0)
	w := store.NewWriter(db, fastWriterConfig(sp))
	in, stop := runWriter(t, w, context.Background())
	waitFor(t, "the spool replayed", func() bool { return sp.Empty() })
	send(in, calls("live", 10))
	waitFor(t, "live packets stored", func() bool { return w.Stats().Stored == 73 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if rows, distinct := countStored(t, dsn); rows != 90 || distinct != 90 {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want 90, 90", rows, distinct)
	}
	if st := w.Stats(); st.Replayed != 80 {
		t.Fatalf("unexpected replayed count; got %d; want 80", st.Replayed)
	}
	checkStats(t, db, dsn, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

func TestWriter_SpoolFullDropsAreCounted(t *testing.T) {
	db, proxy, dsn := openProxied(t)
	proxy.Cut()
	sp := openSpool(t, t.TempDir(), 16<<10) // a few batches of 50
	w := store.NewWriter(db, fastWriterConfig(sp))
	in, stop := runWriter(t, w, context.Background())
	send(in, calls("x", 1000))
	waitFor(t, "every packet spooled or dropped", func() bool {
		st := w.Stats()
		return st.Spooled+st.SpoolDropped[store.SpoolFull] == 1000
	})
	st := w.Stats()
	if st.Spooled == 0 || st.SpoolDropped[store.SpoolFull] == 0 || sp.Bytes() > 16<<10 {
		t.Fatalf("unexpected stats with a small spool: %+v, spool bytes %d", st, sp.Bytes())
	}
	proxy.Restore()
	waitFor(t, "the spool replayed", func() bool { return sp.Empty() })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if rows, _ := countStored(t, dsn); rows != int(st.Spooled) {
		t.Fatalf("unexpected stored packets; got %d; want the %d spooled", rows, st.Spooled)
	}
}

func TestWriter_SpoolFullButDatabaseUp(t *testing.T) {
	db, _, dsn := openProxied(t)
	ctx := context.Background()
	// A spooled packet the replay cannot get past: the test deletes its block
	// in a transaction it keeps open, so the replay's insert waits on it.
	held := calls("held", 1)
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, held); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM packet_blocks WHERE first_id = $1`, held[0].ID); err != nil {
		t.Fatal(err)
	}
	scratch := openSpool(t, t.TempDir(), 0)
	if err := scratch.Append(store.EncodeForSpool(held), len(held)); err != nil {
		t.Fatal(err)
	}
	sp := openSpool(t, t.TempDir(), scratch.Bytes()) // full with the held batch
	if err := sp.Append(store.EncodeForSpool(held), len(held)); err != nil {
		t.Fatal(err)
	}
	cfg := fastWriterConfig(sp)
	cfg.WriteTimeout = time.Minute
	w := store.NewWriter(db, cfg)
	in, stop := runWriter(t, w, ctx)

	// The replay lags (here: is stuck), the spool is full, the database
	// answers: live batches are written directly rather than dropped.
	send(in, calls("live", 500))
	waitFor(t, "500 live packets stored", func() bool { return w.Stats().Stored == 500 })
	if st := w.Stats(); st.SpoolDropped[store.SpoolFull] != 0 || st.Spooled != 0 {
		t.Fatalf("unexpected stats; got %+v; want nothing dropped or spooled", st)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spool replayed", func() bool { return sp.Empty() })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if rows, distinct := countStored(t, dsn); rows != 501 || distinct != 501 {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want 501, 501", rows, distinct)
	}
}

func TestWriter_SpoolsWhatArrivesAfterCancel(t *testing.T) {
	db, proxy, _ := openProxied(t)
	proxy.Cut()
	sp := openSpool(t, t.TempDir(), 0)
	cfg := fastWriterConfig(sp)
	cfg.SpoolAfter = time.Hour // only the cancel may send batches to the spool
	w := store.NewWriter(db, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	in, stop := runWriter(t, w, ctx)
	send(in, calls("x", 120))
	time.Sleep(50 * time.Millisecond) // the writer is retrying its first batch
	cancel()
	send(in, calls("y", 30))
	if err := stop(); err != nil {
		t.Fatalf("unexpected error from Run after cancel with a spool: %v", err)
	}
	if st := w.Stats(); st.Spooled != 150 || st.Stored != 0 {
		t.Fatalf("unexpected stats after cancel; got %+v; want 150 spooled", st)
	}
}

// A database that answers but falls behind live traffic: once every writer
// has a batch in hand and the queue is a quarter full, batches go to the spool
// rather than the queue overflowing, and writers and replayer together
// store each packet once.
func TestWriter_OverflowsToSpoolWhenDatabaseIsBehind(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	// The day's partition first, so the lock below holds back only inserts.
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, calls("first", 1)); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// SHARE conflicts with the ROW EXCLUSIVE an INSERT takes: every write
	// waits, as on a database that cannot keep up.
	if _, err := tx.Exec(ctx, `LOCK TABLE packet_blocks IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	sp := openSpool(t, t.TempDir(), 0)
	cfg := fastWriterConfig(sp)
	cfg.WriteTimeout = time.Minute // slow, not away: no write fails
	w := store.NewWriter(db, cfg)
	in, stop := runWriter(t, w, ctx)

	// The writers take cfg.Writers batches and Run encodes one more; the
	// rest waits in the queue (10,000) until it is a quarter full.
	const n = 8000
	send(in, calls("live", n))
	waitFor(t, "batches overflowing to the spool", func() bool { return w.Stats().Spooled > 0 })
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every packet stored", func() bool { return w.Stats().Stored == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Replayed != st.Spooled || st.Spooled == 0 || st.Spooled == n {
		t.Fatalf("unexpected stats %+v; want some but not all packets through the spool, all replayed", st)
	}
	if rows, distinct := countStored(t, dsn); rows != n+1 || distinct != n+1 {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want %d, %d", rows, distinct, n+1, n+1)
	}
}
