package spool

import (
	"testing"

	"github.com/hepvault/hepvault"
)

// BenchmarkSpool measures a batch of 2000 packets through the spool:
// Append (one write and one fsync) then Next and Commit.
func BenchmarkSpool(b *testing.B) {
	s, err := Open(testConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pkts := make([]hepvault.Packet, 2000)
	for i := range pkts {
		pkts[i] = fullPacket()
	}
	b.SetBytes(int64(len(AppendBatch(nil, pkts))))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AppendUnwritten(pkts); err != nil {
			b.Fatal(err)
		}
		rec, ok, err := s.Next()
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		if err := s.Commit(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(pkts))/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkDecodeBatch measures decoding alone.
func BenchmarkDecodeBatch(b *testing.B) {
	pkts := make([]hepvault.Packet, 2000)
	for i := range pkts {
		pkts[i] = fullPacket()
	}
	enc := AppendBatch(nil, pkts)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(enc); err != nil {
			b.Fatal(err)
		}
	}
}
