package store

import (
	"context"
	"testing"

	"github.com/hepvault/hepvault/store/storetest"
)

// migratedDB opens a migrated store on a fresh database, closed when the
// test ends, for the tests inside the package.
func migratedDB(tb testing.TB) *DB {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.DSN = storetest.NewDatabase(tb)
	db, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}
