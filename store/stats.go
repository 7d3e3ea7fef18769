package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// Statistics are counted in Go as batches are encoded (stats_count.go),
// appended to stats_delta with the blocks they count (insertBlocks), folded
// every minute into rollups (FoldStats) and read back as the sum of rollup
// and delta rows (Stats). migrations/0001_init.up.sql describes the tables.

// TopPairs is how many address pairs a minute, hour or day keeps by name;
// the rest are counted as hepvault.StatsOther. Pairs are as many as the
// traffic's endpoints, the other dimensions' keys are few.
const TopPairs = 20

// statsLock serialises folds and deletions of statistics between hepvault
// processes: two folds of one minute would each merge its old row with
// their own deltas, and the second would lose the first's.
const statsLock = 0x6865707a

const insertStats = `INSERT INTO stats_delta (minute, dim, keys, counts) VALUES ($1::timestamptz, $2::text, $3::text[], $4::int8[])`

const insertStatsName = "hepvault_insert_stats"

// mergeRows sums the keys of the rows of src (at, dim, keys, counts) per
// (at, dim) into one row, keeping the TopPairs ($2) most frequent pairs and
// counting the rest as other; keys are in order of count, highest first.
const mergeRows = `
SELECT at, dim, array_agg(k ORDER BY c DESC, k), array_agg(c ORDER BY c DESC, k)
FROM (
    SELECT at, dim, CASE WHEN dim = 'pair' AND (k = 'other' OR rn > $2) THEN 'other' ELSE k END AS k, sum(c)::bigint AS c
    FROM (
        SELECT at, dim, k, c, row_number() OVER (PARTITION BY at, dim, k = 'other' ORDER BY c DESC, k) AS rn
        FROM (
            SELECT src.at, src.dim, u.k, sum(u.c)::bigint AS c
            FROM src, LATERAL unnest(src.keys, src.counts) AS u(k, c)
            GROUP BY 1, 2, 3
        ) sums
    ) ranked
    GROUP BY 1, 2, 3
) bounded
GROUP BY at, dim`

// foldMinutes moves the delta rows of the minutes before $1 into
// stats_minute, merged with the row a minute has already (late packets,
// an import), and returns the minutes and dimensions it changed.
const foldMinutes = `
WITH d AS (
    DELETE FROM stats_delta WHERE minute < $1 RETURNING minute, dim, keys, counts
), src AS (
    SELECT minute AS at, dim, keys, counts FROM d
    UNION ALL
    SELECT s.minute, s.dim, s.keys, s.counts FROM stats_minute s
    WHERE (s.dim, s.minute) IN (SELECT DISTINCT dim, minute FROM d)
)
INSERT INTO stats_minute (minute, dim, keys, counts)` + mergeRows + `
ON CONFLICT (dim, minute) DO UPDATE SET keys = EXCLUDED.keys, counts = EXCLUDED.counts
RETURNING minute, dim`

// rollup recomputes the rows of table for the periods and dimensions in
// $1 and $3 from the rows of the next finer table.
func rollup(table, col, finer, finerCol, width string) string {
	return `
WITH t AS (
    SELECT * FROM unnest($1::timestamptz[], $3::text[]) AS t(at, dim)
), src AS (
    SELECT t.at, s.dim, s.keys, s.counts
    FROM t JOIN ` + finer + ` s ON s.dim = t.dim AND s.` + finerCol + ` >= t.at AND s.` + finerCol + ` < t.at + interval '` + width + `'
)
INSERT INTO ` + table + ` (` + col + `, dim, keys, counts)` + mergeRows + `
ON CONFLICT (dim, ` + col + `) DO UPDATE SET keys = EXCLUDED.keys, counts = EXCLUDED.counts`
}

var (
	rollHours = rollup("stats_hour", "hour", "stats_minute", "minute", "1 hour")
	rollDays  = rollup("stats_day", "day", "stats_hour", "hour", "1 day")
)

// FoldStats merges the statistics of the minutes that ended 30 s or more
// before now into one row per minute and dimension, and recomputes the
// hours and days they fall in. The server calls it every minute; counts
// read the same before and after (Stats adds the rows not folded yet).
func (db *DB) FoldStats(ctx context.Context, now time.Time) error {
	if err := db.errNotReady(); err != nil {
		return err
	}
	before := now.Add(-30 * time.Second).UTC().Truncate(time.Minute)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, statsLock); err != nil {
			return err
		}
		type period struct {
			at  time.Time
			dim string
		}
		hours, days := map[period]bool{}, map[period]bool{}
		rows, err := tx.Query(ctx, foldMinutes, before, TopPairs)
		if err != nil {
			return err
		}
		var (
			minute time.Time
			dim    string
		)
		_, err = pgx.ForEachRow(rows, []any{&minute, &dim}, func() error {
			hours[period{minute.UTC().Truncate(time.Hour), dim}] = true
			days[period{minute.UTC().Truncate(day), dim}] = true
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range []struct {
			sql     string
			periods map[period]bool
		}{{rollHours, hours}, {rollDays, days}} {
			if len(r.periods) == 0 {
				continue
			}
			ats, dims := make([]time.Time, 0, len(r.periods)), make([]string, 0, len(r.periods))
			for p := range r.periods {
				ats, dims = append(ats, p.at), append(dims, p.dim)
			}
			if _, err := tx.Exec(ctx, r.sql, ats, TopPairs, dims); err != nil {
				return err
			}
		}
		return nil
	})
	return interpretError("fold statistics", err)
}

// DropStatsBefore deletes the statistics of the minutes before t, and of
// the hours and days that end by t. The server calls it at start and
// hourly with its --stats-retention.
//
// Deleted, not partitioned and dropped: statistics are a few rows a minute
// (one per dimension and level), so an hour's worth deletes in
// milliseconds, and a DELETE, unlike dropping a partition, takes no lock
// that would stop the writer's inserts or a query.
func (db *DB) DropStatsBefore(ctx context.Context, t time.Time) error {
	if err := db.errNotReady(); err != nil {
		return err
	}
	t = t.UTC().Truncate(time.Minute)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, statsLock); err != nil {
			return err
		}
		for _, d := range []struct {
			sql string
			at  time.Time
		}{
			{`DELETE FROM stats_delta WHERE minute < $1`, t},
			{`DELETE FROM stats_minute WHERE minute < $1`, t},
			{`DELETE FROM stats_hour WHERE hour <= $1`, t.Add(-time.Hour)},
			{`DELETE FROM stats_day WHERE day <= $1`, t.Add(-day)},
		} {
			if _, err := tx.Exec(ctx, d.sql, d.at); err != nil {
				return err
			}
		}
		return nil
	})
	return interpretError("delete old statistics", err)
}

// statsLevels are the rollups a step reads: the widest whose periods
// divide the step.
var statsLevels = map[time.Duration]struct{ table, col string }{
	time.Minute:     {"stats_minute", "minute"},
	5 * time.Minute: {"stats_minute", "minute"},
	time.Hour:       {"stats_hour", "hour"},
	day:             {"stats_day", "day"},
}

var errBadStats = errors.New("store: malformed statistics row")

// MaxStatsPoints caps the points of one series: (To-From)/Step.
const MaxStatsPoints = 10000

// CheckStatsQuery reports what is wrong with q, as an hepvault.ErrInvalid.
func CheckStatsQuery(q hepvault.StatsQuery) error {
	if _, ok := statsLevels[q.Step]; !ok {
		return fmt.Errorf("%w: step must be 1m, 5m, 1h or 1d, not %s", hepvault.ErrInvalid, q.Step)
	}
	if !slices.Contains(hepvault.StatsDims(), q.By) {
		return fmt.Errorf("%w: unknown statistics dimension %q", hepvault.ErrInvalid, q.By)
	}
	if !q.To.After(q.From) {
		return fmt.Errorf("%w: to (%s) must be after from (%s)", hepvault.ErrInvalid, q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	if q.From.UnixNano()%int64(q.Step) != 0 || q.To.UnixNano()%int64(q.Step) != 0 {
		return fmt.Errorf("%w: from and to must be multiples of the step in UTC", hepvault.ErrInvalid)
	}
	if n := q.To.Sub(q.From) / q.Step; n > MaxStatsPoints {
		return fmt.Errorf("%w: from to to holds %d steps of %s; at most %d are allowed", hepvault.ErrInvalid, n, q.Step, MaxStatsPoints)
	}
	return nil
}

// Stats returns the counts q asks for: a series per key, each with a point
// per step of the window, ordered by total count, highest first. For
// dimension pair the window's TopPairs most frequent pairs are kept and the
// rest summed as other.
func (db *DB) Stats(ctx context.Context, q hepvault.StatsQuery) ([]hepvault.StatsSeries, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	if err := CheckStatsQuery(q); err != nil {
		return nil, err
	}
	lv := statsLevels[q.Step]
	// The rows of the window as they are, summed here: PostgreSQL would
	// unnest and group every key of every row (86,400 for 90 days of 40
	// status codes at 1 h) and send as many rows back.
	var pr params
	dim, from, to := pr.add(oidText, []byte(q.By)), pr.time(q.From), pr.time(q.To)
	sql := `SELECT ` + lv.col + `, keys, counts FROM ` + lv.table + ` WHERE dim = ` + dim + ` AND ` + lv.col + ` >= ` + from + ` AND ` + lv.col + ` < ` + to + `
UNION ALL
SELECT minute, keys, counts FROM stats_delta WHERE dim = ` + dim + ` AND minute >= ` + from + ` AND minute < ` + to
	n := int(q.To.Sub(q.From) / q.Step)
	series := map[string][]int64{}
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, interpretError("read statistics", err)
	}
	defer c.Release()
	var keys, counts arrayReader
	err = each(ctx, c.Conn().PgConn(), sql, &pr, func(v [][]byte) error {
		at, ok := fromPGTime(v[0])
		if !ok {
			return errBadStats
		}
		i := int(at.Sub(q.From) / q.Step)
		if i < 0 || i >= n {
			return nil
		}
		if keys.reset(v[1]) != nil || counts.reset(v[2]) != nil || keys.n != counts.n {
			return errBadStats
		}
		for keys.n > 0 {
			k, null1, err1 := keys.next()
			c, null2, err2 := counts.next()
			if err1 != nil || err2 != nil || null1 || null2 || len(c) != 8 {
				return errBadStats
			}
			s := series[string(k)]
			if s == nil {
				s = make([]int64, n)
				series[string(k)] = s
			}
			s[i] += int64(binary.BigEndian.Uint64(c))
		}
		return nil
	})
	if err != nil {
		return nil, interpretError("read statistics", err)
	}
	type total struct {
		key string
		sum int64
	}
	totals := make([]total, 0, len(series))
	for k, s := range series {
		var sum int64
		for _, v := range s {
			sum += v
		}
		totals = append(totals, total{k, sum})
	}
	slices.SortFunc(totals, func(a, b total) int {
		if c := cmp.Compare(b.sum, a.sum); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	if q.By == hepvault.StatsPair {
		// The window's most frequent pairs by name, the rest as other.
		var kept []total
		other := series[hepvault.StatsOther]
		for _, t := range totals {
			switch {
			case t.key == hepvault.StatsOther:
			case len(kept) < TopPairs:
				kept = append(kept, t)
			default:
				if other == nil {
					other = make([]int64, n)
					series[hepvault.StatsOther] = other
				}
				for i, v := range series[t.key] {
					other[i] += v
				}
			}
		}
		if other != nil {
			var sum int64
			for _, v := range other {
				sum += v
			}
			kept = append(kept, total{hepvault.StatsOther, sum})
		}
		totals = kept
	}
	out := make([]hepvault.StatsSeries, len(totals))
	for j, t := range totals {
		pts := make([]hepvault.StatsPoint, n)
		for i, v := range series[t.key] {
			pts[i] = hepvault.StatsPoint{T: q.From.Add(time.Duration(i) * q.Step).UTC(), Count: v}
		}
		out[j] = hepvault.StatsSeries{Key: t.key, Points: pts}
	}
	return out, nil
}
