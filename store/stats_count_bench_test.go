package store

import "testing"

// BenchmarkStatCounts: the writer's CPU per batch for statistics: count
// every packet (Run's flush) and turn the counts into rows (insertBlocks).
func BenchmarkStatCounts(b *testing.B) {
	pkts, _ := benchPackets(b, 2000)
	var (
		c    statCounts
		rows []statRow
		buf  []byte
	)
	b.ReportAllocs()
	for b.Loop() {
		c.reset()
		c.addPackets(pkts)
		rows, buf = c.rows(rows[:0], buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
	b.ReportMetric(float64(len(rows)), "rows/batch")
}
