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

// BenchmarkEncodeBlocks: the writer's CPU per batch before PostgreSQL.
func BenchmarkEncodeBlocks(b *testing.B) {
	pkts, raw := benchPackets(b, 2000)
	buf := new([]byte)
	b.SetBytes(raw)
	b.ReportAllocs()
	for b.Loop() {
		encodeBlocks(pkts, buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
}

// BenchmarkDecodeBlock: a query's CPU per packet read, with its header
// fields parsed from raw (headers) or not (keys only, what a filter that
// rejects the packet costs).
func BenchmarkDecodeBlock(b *testing.B) {
	pkts, raw := benchPackets(b, maxBlockPackets)
	rows := encodeBlocks(pkts, new([]byte))
	if len(rows) != 1 {
		b.Fatalf("unexpected %d blocks; want 1", len(rows))
	}
	for _, full := range []bool{false, true} {
		name := "keys"
		if full {
			name = "headers"
		}
		b.Run(name, func(b *testing.B) {
			var d blockDecoder
			var p hepvault.Packet
			b.SetBytes(raw)
			b.ReportAllocs()
			for b.Loop() {
				d.reset(rows[0].data)
				d.keysOnly = true
				for d.next(&p) {
					if full {
						d.headers(&p)
					}
				}
				if d.Err() != nil {
					b.Fatal(d.Err())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
		})
	}
}
