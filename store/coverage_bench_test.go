package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// coverageDB opens the database HEPVAULT_BENCH_COVERAGE_DSN names, seeded
// beforehand (storebench seed -db DSN -n 1000000 -days 1), and returns it
// with the time span it holds; the benchmark skips without it.
func coverageDB(b *testing.B) (*store.DB, string, time.Time, time.Time) {
	dsn := os.Getenv("HEPVAULT_BENCH_COVERAGE_DSN")
	if dsn == "" {
		b.Skip("HEPVAULT_BENCH_COVERAGE_DSN is not set: seed a database with storebench seed -n 1000000 -days 1 and name it")
	}
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var from, to time.Time
	if err := conn.QueryRow(context.Background(), `SELECT min(first_at), max(last_at) FROM packet_blocks`).Scan(&from, &to); err != nil {
		b.Fatal(err)
	}
	return db, dsn, from, to.Add(time.Microsecond)
}

// BenchmarkCoverage_Day: the coverage of the whole seeded day, its one
// agent's gaps read from the edges of its blocks (the term index).
func BenchmarkCoverage_Day(b *testing.B) {
	db, _, from, to := coverageDB(b)
	b.ReportAllocs()
	var cv store.Coverage
	for b.Loop() {
		var err error
		if cv, err = db.Coverage(context.Background(), store.CoverageQuery{From: from, To: to, Gap: time.Minute, Now: to}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(cv.Agents)), "agents")
	if len(cv.Agents) > 0 {
		b.ReportMetric(float64(cv.Agents[0].Packets), "packets")
		b.ReportMetric(float64(len(cv.Agents[0].Gaps)), "gaps")
	}
}

// BenchmarkCoverage_DayExact is the alternative not taken: the agent's gaps
// from every packet's capture time, which decodes every block of the day.
func BenchmarkCoverage_DayExact(b *testing.B) {
	_, dsn, from, to := coverageDB(b)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		rows, err := conn.Query(context.Background(), `SELECT captured_at FROM packets_between($1, $2) WHERE capture_id = 4242 ORDER BY 1`, from, to)
		if err != nil {
			b.Fatal(err)
		}
		var prev, at time.Time
		gaps, n := 0, 0
		for rows.Next() {
			if err := rows.Scan(&at); err != nil {
				b.Fatal(err)
			}
			if n > 0 && at.Sub(prev) > time.Minute {
				gaps++
			}
			prev = at
			n++
		}
		if rows.Err() != nil {
			b.Fatal(rows.Err())
		}
		b.ReportMetric(float64(n), "packets")
		b.ReportMetric(float64(gaps), "gaps")
	}
}
