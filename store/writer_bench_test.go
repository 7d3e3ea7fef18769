package store_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

// BenchmarkWriteBatch writes one batch of 2000 realistic packets (the
// writer's default batch size) per op with the default config, as blocks
// (block_write.go), into a table that grows as the benchmark runs.
// PostgreSQL's CPU is part of the time: it runs on the same machine.
func BenchmarkWriteBatch(b *testing.B) {
	db, _ := benchDB(b)
	pkts := realisticPackets(b, "w", store.DefaultWriterConfig().BatchSize, time.Now().Add(-time.Hour), 100*time.Microsecond)
	w := store.NewWriter(db, store.DefaultWriterConfig())
	ctx := context.Background()
	if err := w.WriteBatch(ctx, pkts); err != nil { // partitions made outside the loop
		b.Fatal(err)
	}
	b.SetBytes(rawBytes(pkts))
	b.ReportAllocs()
	for b.Loop() {
		renumber(pkts) // (captured_at, id) is unique
		if err := w.WriteBatch(ctx, pkts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(pkts))/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkWriteBatch_Parallel is the same with one WriteBatch per core at
// once (pool connections), to show what several writers would gain.
func BenchmarkWriteBatch_Parallel(b *testing.B) {
	db, _ := benchDB(b)
	pkts := realisticPackets(b, "w", store.DefaultWriterConfig().BatchSize, time.Now().Add(-time.Hour), 100*time.Microsecond)
	w := store.NewWriter(db, store.DefaultWriterConfig())
	ctx := context.Background()
	if err := w.WriteBatch(ctx, pkts); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rawBytes(pkts))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mine := slices.Clone(pkts)
		for pb.Next() {
			renumber(mine)
			if err := w.WriteBatch(ctx, mine); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*len(pkts))/b.Elapsed().Seconds(), "packets/s")
}

var lastID atomic.Int64

// renumber gives pkts ids no batch had before.
func renumber(pkts []hepvault.Packet) {
	base := lastID.Add(int64(len(pkts))) - int64(len(pkts))
	for i := range pkts {
		pkts[i].ID = 1<<40 + base + int64(i)
	}
}
