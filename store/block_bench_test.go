package store

import (
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/seed"
)

func benchPackets(b *testing.B, n int) ([]hepvault.Packet, int64) {
	b.Helper()
	// 20,000 packets a second: blocks fill to maxBlockPackets, as under load.
	pkts := seed.New(seed.Config{Start: time.Now().Add(-time.Hour), Rate: 20000, Seed: 7}).Packets(n)
	var raw int64
	for i := range pkts {
		raw += int64(len(pkts[i].Raw))
	}
	return pkts, raw
}

// BenchmarkEncodeBlocks: the writer's CPU per batch (the default batch
// size) before PostgreSQL: sort, cut, encode every field, hash the terms.
func BenchmarkEncodeBlocks(b *testing.B) {
	pkts, raw := benchPackets(b, 2000)
	b.SetBytes(raw)
	b.ReportAllocs()
	for b.Loop() {
		encodeBlocks(pkts)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
}

// BenchmarkDecodeBlock: a query's CPU per packet read from one full block:
// its fields only (next: what a packet the filter rejects costs), and made
// independent of the block (next and own: what a match costs).
func BenchmarkDecodeBlock(b *testing.B) {
	pkts, raw := benchPackets(b, maxBlockPackets)
	blocks := encodeBlocks(pkts)
	if len(blocks) != 1 {
		b.Fatalf("unexpected %d blocks; want 1", len(blocks))
	}
	blk := blocks[0]
	for _, keep := range []bool{false, true} {
		name := "fields"
		if keep {
			name = "own"
		}
		b.Run(name, func(b *testing.B) {
			var d blockDecoder
			var p hepvault.Packet
			b.SetBytes(raw)
			b.ReportAllocs()
			for b.Loop() {
				if err := d.reset(blk.format, blk.packets); err != nil {
					b.Fatal(err)
				}
				for d.more() {
					if err := d.next(&p); err != nil {
						b.Fatal(err)
					}
					if keep {
						own(&p)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
		})
	}
}
