package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// runArchive measures what moving a day to an archive database costs: it
// fills one past UTC day with n packets, then moves it (store.Archiver:
// copy, verification, swap for a foreign partition) while a writer stores
// today's traffic at -rate, and reports how long the move took and the
// writer's slowest batch meanwhile.
func runArchive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("archive", stderr)
	dsn := fs.String("db", "", "PostgreSQL DSN of the main database")
	archiveDSN := fs.String("archive-db", "", "PostgreSQL DSN of the archive database")
	n := fs.Int("n", 1000000, "packets in the day that moves")
	ago := fs.Int("days-ago", 40, "which day: this many days before today (UTC)")
	rate := fs.Int("rate", 10000, "packets per second the writer stores meanwhile")
	batch := fs.Int("batch", 2000, "packets per batch, seeding and meanwhile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ago < 1 || *n < 1 || *rate < 1 || *batch < 1 || *archiveDSN == "" {
		return fmt.Errorf("archive: -archive-db is needed; -n, -days-ago, -rate and -batch must be positive")
	}
	db, now, day, err := seededPastDay(ctx, *dsn, *ago, *n, *batch, stdout, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var bytes int64
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE packet_blocks`); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, "packet_blocks_p"+day.Format("20060102")).Scan(&bytes); err != nil {
		return err
	}
	a, err := store.NewArchiver(db, store.ArchiveConfig{DSN: *archiveDSN, After: 24 * time.Hour, Logger: warnLogger(stderr)})
	if err != nil {
		return err
	}
	defer a.Close()
	m, err := whileWriting(ctx, db, now, *rate, *batch, func() error { return a.MoveDay(ctx, day) })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "moved %s (%d packets, %.1f MB here) to the archive in %s (%.0f packets/s, %.1f MB/s) while a writer stored %d/s in batches of %d: %s\n",
		day.Format(time.DateOnly), *n, float64(bytes)/1e6, m.took.Round(time.Millisecond), float64(*n)/m.took.Seconds(),
		float64(bytes)/1e6/m.took.Seconds(), *rate, *batch, m)
	return nil
}
