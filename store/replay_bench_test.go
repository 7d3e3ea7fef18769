package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hepvault/hepvault/store"
)

// BenchmarkReplayWrite compares the two ways a spooled batch can reach the
// database: WriteBatch, and WriteBatchOnce (reads the stored blocks of the
// batch's time span first and writes only packets not among them), which
// the replay uses when a batch may be stored already. The replay must
// outpace live traffic for a spool to drain.
func BenchmarkReplayWrite(b *testing.B) {
	db, _ := benchDB(b)
	w := store.NewWriter(db, store.DefaultWriterConfig())
	ctx := context.Background()
	const size = 2000
	for _, mode := range []string{"plain", "once"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				pkts := calls(fmt.Sprintf("%s-%d", mode, i), size)
				var err error
				if mode == "plain" {
					err = w.WriteBatch(ctx, pkts)
				} else {
					_, err = w.WriteBatchOnce(ctx, pkts)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
