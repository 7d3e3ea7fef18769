package store_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// seededDB fills a fresh database with $HEPVAULT_BENCH_ROWS (default
// 200,000) packets of the hepbench mix spread evenly over the 7 days before
// now, and returns it with the Call-IDs stored and the first capture time.
// It takes seconds per 100,000 rows; the 10-million-row figures are made
// with hepbench (see BENCHMARKS.md).
func seededDB(b *testing.B) (*store.DB, []string, time.Time) {
	b.Helper()
	rows := 200000
	if v := os.Getenv("HEPVAULT_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("HEPVAULT_BENCH_ROWS=%q: want a number of at least 1000", v)
		}
		rows = n
	}
	db, dsn := benchDB(b)
	span := 7 * 24 * time.Hour
	start := time.Now().Add(-span).Truncate(time.Minute)
	step := span / time.Duration(rows)
	const chunk = 20000
	w := store.NewWriter(db, store.DefaultWriterConfig())
	ctx := context.Background()
	seen := map[string]bool{}
	var callIDs []string
	for done := 0; done < rows; done += chunk {
		n := min(chunk, rows-done)
		// A run id per chunk keeps the Call-IDs of the chunks apart.
		pkts := realisticPackets(b, "q"+strconv.Itoa(done), n, start.Add(time.Duration(done)*step), step)
		for i := range pkts {
			pkts[i].ID = int64(done + i + 1)
			if !seen[pkts[i].CallID] {
				seen[pkts[i].CallID] = true
				callIDs = append(callIDs, pkts[i].CallID)
			}
		}
		for i := 0; i < n; i += 2000 {
			if err := w.WriteBatch(ctx, pkts[i:min(n, i+2000)]); err != nil {
				b.Fatal(err)
			}
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE packet_blocks"); err != nil {
		b.Fatal(err)
	}
	return db, callIDs, start
}

// BenchmarkQuery runs the two questions of the API against one seeded
// table: the first 100 packets of a random 1-minute window, and every packet
// of a random Call-ID.
func BenchmarkQuery(b *testing.B) {
	db, callIDs, start := seededDB(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	minutes := int(7 * 24 * time.Hour / time.Minute)
	b.Run("FirstPage", func(b *testing.B) {
		b.ReportAllocs()
		got := 0
		for b.Loop() {
			from := start.Add(time.Duration(rng.IntN(minutes-1)) * time.Minute)
			pkts, _, err := db.Packets(ctx, hepvault.Filter{From: from, To: from.Add(time.Minute), Limit: 100})
			if err != nil {
				b.Fatal(err)
			}
			got += len(pkts)
		}
		b.ReportMetric(float64(got)/float64(b.N), "packets/op")
	})
	b.Run("Call", func(b *testing.B) {
		b.ReportAllocs()
		got := 0
		for b.Loop() {
			pkts, err := db.Call(ctx, callIDs[rng.IntN(len(callIDs))])
			if err != nil {
				b.Fatal(err)
			}
			if len(pkts) == 0 {
				b.Fatal("a stored Call-ID returned no packets")
			}
			got += len(pkts)
		}
		b.ReportMetric(float64(got)/float64(b.N), "packets/op")
	})
}
