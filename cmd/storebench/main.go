// Command storebench measures hepvault's storage and queries at scale, for
// BENCHMARKS.md:
//
//	storebench seed  -db DSN -n 10000000 -days 7   write realistic traffic through store.Writer
//	storebench query -db DSN -url http://127.0.0.1:9080 -n 1000
//	                 latency of the two API questions: the first 100 packets
//	                 of a 1-minute window, and every packet of one Call-ID
//	storebench seal  -db DSN [-verify-only] [-readers N]
//	                 seal the ended days of a seeded store (seed -end), then
//	                 verify them, timing both
//	storebench drop  -db DSN -n 1000000 -rate 10000
//	                 fill a past day, then time its drop (retention) while a
//	                 writer stores today's traffic
//	storebench archive -db DSN -archive-db DSN -n 1000000 -rate 10000
//	                 fill a past day, then time its move to an archive
//	                 database while a writer stores today's traffic
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hepvault/hepvault/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "storebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("want a command: seed, query, seal, drop or archive")
	}
	switch args[0] {
	case "seed":
		return runSeed(ctx, args[1:], stdout, stderr)
	case "query":
		return runQuery(ctx, args[1:], stdout, stderr)
	case "drop":
		return runDrop(ctx, args[1:], stdout, stderr)
	case "seal":
		return runSeal(ctx, args[1:], stdout, stderr)
	case "archive":
		return runArchive(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown command %q: want seed, query, seal, drop or archive", args[0])
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// warnLogger logs warnings and errors to stderr: a benchmark's output is
// its figures.
func warnLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openMigrated opens the database at dsn and brings its schema up to date.
func openMigrated(ctx context.Context, dsn string, stderr io.Writer) (*store.DB, error) {
	cfg := store.DefaultConfig()
	cfg.DSN, cfg.Logger = dsn, warnLogger(stderr)
	db, err := store.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
