package spool

import (
	"testing"
)

// BenchmarkSpool measures a batch of 2000 packets' worth of bytes (~1 MB)
// through the spool: Append (one write and one fsync) then Next and Commit.
func BenchmarkSpool(b *testing.B) {
	s, err := Open(testConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const packets = 2000
	data := make([]byte, packets*500)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AppendUnwritten(data, packets); err != nil {
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
	b.ReportMetric(float64(b.N*packets)/b.Elapsed().Seconds(), "packets/s")
}
