package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

// BenchmarkCalls_Legs: a page of 100 INVITE calls of a 1-hour window with
// its legs found, and the same page without, to see what the legs cost.
// It seeds 200,000 packets of hepbench's mix over 20 s windows; with
// HEPVAULT_CALLS_BENCH_DSN it asks that database (a storebench seed)
// instead, for windows within its span.
func BenchmarkCalls_Legs(b *testing.B) {
	ctx := context.Background()
	var db *store.DB
	var lo, hi time.Time
	if dsn := os.Getenv("HEPVAULT_CALLS_BENCH_DSN"); dsn != "" {
		cfg := store.DefaultConfig()
		cfg.DSN = dsn
		var err error
		if db, err = store.Open(ctx, cfg); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(db.Close)
		first, _, err := db.Packets(ctx, hepvault.Filter{Limit: 1})
		if err != nil || len(first) == 0 {
			b.Fatalf("no packets in HEPVAULT_CALLS_BENCH_DSN (%v)", err)
		}
		lo, hi = first[0].CapturedAt, first[0].CapturedAt.Add(6*24*time.Hour)
	} else {
		db, _ = benchDB(b)
		lo = time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
		pkts := realisticPackets(b, "legs", 200000, lo, 100*time.Microsecond)
		w := store.NewWriter(db, store.DefaultWriterConfig())
		for i := 0; i < len(pkts); i += 2000 {
			if err := w.WriteBatch(ctx, pkts[i:min(i+2000, len(pkts))]); err != nil {
				b.Fatal(err)
			}
		}
		hi = lo.Add(10 * time.Second)
	}
	span := hi.Sub(lo)
	filter := func(i int) store.CallFilter {
		at := lo.Add(time.Duration(uint64(i)*2654435761%1000) * span / 1000)
		return store.CallFilter{Filter: hepvault.Filter{From: at, To: at.Add(time.Hour), Methods: []string{"INVITE"}, Limit: 100}}
	}
	for _, c := range []struct {
		name  string
		calls func(context.Context, store.CallFilter) (store.CallsPage, error)
	}{
		{"legs", db.Calls},
		{"no_legs", func(ctx context.Context, f store.CallFilter) (store.CallsPage, error) {
			return store.CallsWithoutLegs(ctx, db, f)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i, calls := 0, 0
			for b.Loop() {
				page, err := c.calls(ctx, filter(i))
				if err != nil {
					b.Fatal(err)
				}
				i++
				calls += len(page.Calls)
			}
			b.ReportMetric(float64(calls)/float64(i), "calls/page")
		})
	}
	// The legs alone: what finding them adds to a page.
	b.Run("legs_only", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			b.StopTimer()
			_, legs, err := store.CallsLegsApart(ctx, db, filter(i))
			if err != nil {
				b.Fatal(err)
			}
			i++
			b.StartTimer()
			if err := legs(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
