package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hepvault/hepvault/store"
)

// BenchmarkSealDigest: decoding blocks and hashing each packet's stored
// fields, what sealing and verify do in Go for every packet of a day.
func BenchmarkSealDigest(b *testing.B) {
	pkts := realisticPackets(b, "digest", 10000, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), 100*time.Microsecond)
	digest := store.DigestBlocks(pkts)
	b.SetBytes(rawBytes(pkts) / int64(len(pkts)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		n += digest()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/packet")
}

// BenchmarkSealIngestCost: what the writer does for seals per batch of
// 2,000 packets (the default batch) when none of its days is sealed; set
// it against BenchmarkWriteBatch's cost of a batch.
func BenchmarkSealIngestCost(b *testing.B) {
	db, _ := benchDB(b)
	ctx := context.Background()
	pkts := realisticPackets(b, "ingest", 2000, time.Now().UTC(), 100*time.Microsecond)
	if _, err := db.SealDays(ctx, time.Now(), store.SealConfig{}); err != nil {
		b.Fatal(err)
	}
	check := store.SealedDaysOf(ctx, db, pkts)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if check() != 0 {
			b.Fatal("today is sealed")
		}
	}
}
