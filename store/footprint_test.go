package store_test

import (
	"context"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/seed"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// maxBytesPerPacket: a quarter of the ~1,340 bytes per packet
// heplify-server stores for the same traffic. Issue 10 asks for at most 250
// over 10 M packets (BENCHMARKS.md: ~220); this small run, 20,000 packets
// at 1,000 a second with fresh indexes, measures ~295, so the bound guards
// against losing the blocks' compression, not the last bytes.
const maxBytesPerPacket = 335

// footprint is what one stored packet costs on disk, over every partition.
type footprint struct {
	rows                          int64
	heap, toast, indexes, total   int64
	heapPP, toastPP, indexPP, all float64
}

func measureFootprint(t testing.TB, dsn string) footprint {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// VACUUM makes the visibility map that a long-lived table has; it frees
	// nothing here (no row was deleted).
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE packet_blocks`); err != nil {
		t.Fatal(err)
	}
	var f footprint
	err = conn.QueryRow(ctx, `
		SELECT (SELECT coalesce(sum(count), 0) FROM packet_blocks),
			coalesce(sum(pg_relation_size(c.oid)), 0)::bigint,
			coalesce(sum(pg_total_relation_size(c.reltoastrelid)) FILTER (WHERE c.reltoastrelid <> 0), 0)::bigint,
			coalesce(sum(pg_indexes_size(c.oid)), 0)::bigint,
			coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'packet_blocks'::regclass`).Scan(&f.rows, &f.heap, &f.toast, &f.indexes, &f.total)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(f.rows)
	f.heapPP, f.toastPP, f.indexPP, f.all = float64(f.heap)/n, float64(f.toast)/n, float64(f.indexes)/n, float64(f.total)/n
	return f
}

// TestStorageFootprint writes realistic traffic through the Writer and
// measures bytes on disk per packet (heap, TOAST and indexes), then reads
// every packet back and checks it is what was written. The default size
// keeps it quick; HEPVAULT_FOOTPRINT_N=1000000 gives the figure in
// BENCHMARKS.md.
func TestStorageFootprint(t *testing.T) {
	n := 20000
	if s := os.Getenv("HEPVAULT_FOOTPRINT_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("HEPVAULT_FOOTPRINT_N=%q: want a positive number of packets", s)
		}
		n = v
	}
	db, dsn := openDSN(t)
	ctx := context.Background()
	// Yesterday, so the rows land in daily partitions as live traffic does.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	g := seed.New(seed.Config{Start: start, Rate: 1000, Seed: 42})
	w := store.NewWriter(db, store.DefaultWriterConfig())
	const batch = 2000
	var rawBytes int64
	for done := 0; done < n; done += batch {
		pkts := g.Packets(min(batch, n-done))
		for i := range pkts {
			rawBytes += int64(len(pkts[i].Raw))
		}
		if err := w.WriteBatch(ctx, pkts); err != nil {
			t.Fatal(err)
		}
	}
	f := measureFootprint(t, dsn)
	if f.rows != int64(n) {
		t.Fatalf("unexpected row count; got %d; want %d", f.rows, n)
	}
	t.Logf("%d packets, SIP %.0f B/packet: heap %.0f + TOAST %.0f + indexes %.0f = %.0f B/packet on disk",
		n, float64(rawBytes)/float64(n), f.heapPP, f.toastPP, f.indexPP, f.all)
	if f.all > maxBytesPerPacket {
		t.Errorf("unexpected footprint %.0f bytes/packet; want at most %d", f.all, maxBytesPerPacket)
	}
	if n > 100000 {
		return // the read-back check below is for the quick run
	}
	// Every packet comes back as written: raw byte for byte and each field.
	want := seed.New(seed.Config{Start: start, Rate: 1000, Seed: 42}).Packets(n)
	var after *hepvault.Position
	for i := 0; i < n; {
		got, _, err := db.Packets(ctx, hepvault.Filter{After: after, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatalf("unexpected end of packets after %d of %d", i, n)
		}
		for _, p := range got {
			w := want[i]
			if !reflect.DeepEqual(p, w) {
				t.Fatalf("unexpected packet %d;\ngot  %+v\nwant %+v", i, p, w)
			}
			i++
		}
		last := got[len(got)-1]
		after = &hepvault.Position{CapturedAt: last.CapturedAt, ID: last.ID}
	}
}
