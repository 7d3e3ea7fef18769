package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store/storetest"
)

// BenchmarkStats times the two target questions on 90 days of folded
// statistics (storetest.SeedStats): 90 days at 1 h and one day at 1 m,
// for a dimension of few keys (kind), the most (status) and pair.
func BenchmarkStats(b *testing.B) {
	db, dsn := benchDB(b)
	end := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	storetest.SeedStats(b, dsn, end, 90, 3)
	for _, c := range []struct {
		name string
		q    hepvault.StatsQuery
	}{
		{"90d_1h", hepvault.StatsQuery{From: end.Add(-90 * day), To: end, Step: time.Hour}},
		{"1d_1m", hepvault.StatsQuery{From: end.Add(-day), To: end, Step: time.Minute}},
	} {
		for _, dim := range []hepvault.StatsDim{hepvault.StatsKind, hepvault.StatsStatus, hepvault.StatsPair} {
			b.Run(c.name+"/"+string(dim), func(b *testing.B) {
				q := c.q
				q.By = dim
				points := 0
				for b.Loop() {
					series, err := db.Stats(context.Background(), q)
					if err != nil {
						b.Fatal(err)
					}
					points = len(series) * len(series[0].Points)
				}
				b.ReportMetric(float64(points), "points")
			})
		}
	}
}
