package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/pgembed"
)

// openStorage connects to the database at dsn or, with dsn empty, starts the
// embedded PostgreSQL in dataDir first; then it applies the migrations. serve
// and import share it. On error nothing is left running.
func openStorage(ctx context.Context, dsn, dataDir string, log *slog.Logger) (db *store.DB, pg *pgembed.Server, err error) {
	defer func() {
		if err != nil {
			closeStorage(db, pg, log)
			db, pg = nil, nil
		}
	}()
	if dsn == "" {
		pcfg := pgembed.DefaultConfig()
		pcfg.DataDir, pcfg.Logger = dataDir, log
		log.Info("no --db given: starting the embedded PostgreSQL", "data_dir", dataDir)
		if pg, err = pgembed.Start(ctx, pcfg); err != nil {
			if errors.Is(err, pgembed.ErrAlreadyRunning) {
				return nil, nil, fmt.Errorf("embedded PostgreSQL in %s: %w (is hepvault serve running on it? then give its database with --db)", dataDir, err)
			}
			return nil, nil, fmt.Errorf("embedded PostgreSQL in %s: %w", dataDir, err)
		}
		dsn = pg.DSN()
	}
	scfg := store.DefaultConfig()
	scfg.DSN, scfg.Logger = dsn, log
	if db, err = store.Open(ctx, scfg); err != nil {
		return nil, pg, fmt.Errorf("database unreachable: %w", err)
	}
	if _, err = db.Migrate(ctx); err != nil {
		return db, pg, fmt.Errorf("migrating the database: %w", err)
	}
	return db, pg, nil
}

// closeStorage closes the pool and stops the embedded PostgreSQL, either of
// which may be nil.
func closeStorage(db *store.DB, pg *pgembed.Server, log *slog.Logger) {
	if db != nil {
		db.Close()
	}
	if pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.Stop(ctx); err != nil {
			log.Warn("embedded PostgreSQL did not stop cleanly", "err", err)
		}
	}
}
