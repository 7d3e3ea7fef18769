package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SeedStats fills the statistics of a migrated database at dsn as days of
// folded traffic ending at end (a UTC midnight) would leave them: hour and
// day rows for every day, minute rows for the last minuteDays, each with
// 12 methods, 40 status codes, 6 classes, 3 kinds, 5 capture agents and 21
// address pairs (20 and "other"). Generated in SQL, so seeding 90 days
// takes seconds.
func SeedStats(tb testing.TB, dsn string, end time.Time, days, minuteDays int) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	const dims = `
CREATE TEMP TABLE seed_dims AS
SELECT dim, array_agg(k ORDER BY i) AS keys, array_agg((37 * i) % 101 + 1 ORDER BY i)::bigint[] AS counts
FROM (
    SELECT 'method' AS dim, i, (ARRAY['INVITE','ACK','BYE','CANCEL','REGISTER','OPTIONS','PRACK','SUBSCRIBE','NOTIFY','REFER','INFO','UPDATE'])[i] AS k
    FROM generate_series(1, 12) i
    UNION ALL SELECT 'status', i, (ARRAY[100,180,181,182,183,199,200,202,204,300,301,302,305,380,400,401,402,403,404,405,406,407,408,410,413,415,420,480,481,482,483,484,486,487,488,491,500,503,504,603])[i]::text
    FROM generate_series(1, 40) i
    UNION ALL SELECT 'status_class', i, i || 'xx' FROM generate_series(1, 6) i
    UNION ALL SELECT 'kind', i, (ARRAY['request','response','invalid'])[i] FROM generate_series(1, 3) i
    UNION ALL SELECT 'capture_id', i, (4240 + i)::text FROM generate_series(1, 5) i
    UNION ALL SELECT 'pair', i, CASE WHEN i = 21 THEN 'other' ELSE '10.0.0.' || i || ' > 10.0.1.' || i END FROM generate_series(1, 21) i
) k
GROUP BY dim`
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	mstart := end.Add(-time.Duration(minuteDays) * 24 * time.Hour)
	stmts := []struct {
		sql  string
		args []any
	}{
		{dims, nil},
		{`INSERT INTO stats_minute SELECT t, dim, keys, counts FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') t, seed_dims`, []any{mstart, end}},
		{`INSERT INTO stats_hour SELECT t, dim, keys, (SELECT array_agg(c * 60) FROM unnest(counts) c) FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') t, seed_dims`, []any{start, end}},
		{`INSERT INTO stats_day SELECT t, dim, keys, (SELECT array_agg(c * 1440) FROM unnest(counts) c) FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 day', interval '1 day') t, seed_dims`, []any{start, end}},
		{`VACUUM ANALYZE stats_minute`, nil},
		{`VACUUM ANALYZE stats_hour`, nil},
		{`VACUUM ANALYZE stats_day`, nil},
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s.sql, s.args...); err != nil {
			tb.Fatalf("seeding statistics: %v", err)
		}
	}
}
