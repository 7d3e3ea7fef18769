package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hepvault/hepvault/store"
)

func runMigrate(ctx context.Context, args []string, getenv env, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	dsn := fs.String("db", getenv("HEPVAULT_DB"), "PostgreSQL DSN (env HEPVAULT_DB)")
	var logFormat string
	addLogFormatFlag(fs, getenv, &logFormat)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return usagef("migrate: --db is required")
	}
	log, err := newLogger(stderr, "info", logFormat)
	if err != nil {
		return err
	}
	cfg := store.DefaultConfig()
	cfg.DSN, cfg.Logger = *dsn, log
	db, err := store.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	defer db.Close()
	done, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "applied %d migration(s)\n", len(done))
	return nil
}
