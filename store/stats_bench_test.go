package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
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

// BenchmarkFoldStats times the fold of one minute of 80,000 packets a
// second: 2,400 batches of 2,000 packets, each a delta row per dimension
// (50 pairs and other, 7 methods, 10 status codes, 3 classes, 3 kinds,
// 1 capture agent), into one row per dimension and the hour and day rows.
func BenchmarkFoldStats(b *testing.B) {
	db, dsn := benchDB(b)
	ctx := context.Background()
	minute := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	seed := `INSERT INTO stats_delta
SELECT $1::timestamptz, d.dim, d.keys, d.counts
FROM generate_series(1, 2400) batch,
LATERAL (
    SELECT 'pair' AS dim, array_agg(CASE WHEN i = 51 THEN 'other' ELSE '10.0.' || ((batch * 7 + i) % 300) || '.1 > 10.1.0.' || i END) AS keys, array_agg((i * 13 % 7 + 1)::bigint) AS counts FROM generate_series(1, 51) i
    UNION ALL SELECT 'method', array_agg('M' || i), array_agg((i * 40)::bigint) FROM generate_series(1, 7) i
    UNION ALL SELECT 'status', array_agg((100 + i * 50)::text), array_agg((i * 30)::bigint) FROM generate_series(1, 10) i
    UNION ALL SELECT 'status_class', array_agg(i || 'xx'), array_agg((i * 100)::bigint) FROM generate_series(1, 3) i
    UNION ALL SELECT 'kind', array_agg(k), array_agg(1000::bigint) FROM unnest(ARRAY['request', 'response']) k
    UNION ALL SELECT 'capture_id', ARRAY['4242'], ARRAY[2000::bigint]
) d`
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for b.Loop() {
		b.StopTimer()
		minute = minute.Add(time.Minute)
		if _, err := conn.Exec(ctx, seed, minute); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := db.FoldStats(ctx, minute.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
