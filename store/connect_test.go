package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
)

func connect(t *testing.T, dsn string) *store.DB {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN, cfg.Logger = dsn, slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Connect(cfg)
	if err != nil {
		t.Fatalf("unexpected error for %q: %v", dsn, err)
	}
	t.Cleanup(db.Close)
	return db
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestConnect_UnreachableVersusWrong: serve waits for an unreachable
// database but stops on a wrong address, so the two must differ.
func TestConnect_UnreachableVersusWrong(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Connect(store.Config{DSN: "postgres://h/db?sslmode=bogus"}); err == nil {
		t.Fatal("unexpected success for a malformed DSN")
	}

	down := connect(t, "postgres://hepvault@"+closedPort(t)+"/hepvault?sslmode=disable&connect_timeout=2")
	if err := down.Prepare(ctx, time.Now()); !errors.Is(err, hepvault.ErrUnavailable) {
		t.Fatalf("unexpected Prepare error with the database down; got %v; want ErrUnavailable", err)
	}
	if down.Ready() {
		t.Fatal("a database never reached reports ready")
	}
	// Health answers say why: the last attempt's error.
	if err := down.Ping(ctx); !errors.Is(err, hepvault.ErrUnavailable) || !strings.Contains(err.Error(), "connect to") {
		t.Fatalf("unexpected Ping error; got %v; want ErrUnavailable with the last attempt's error", err)
	}

	u, err := url.Parse(storetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database"
	wrong := connect(t, u.String())
	if err := wrong.Prepare(ctx, time.Now()); err == nil || errors.Is(err, hepvault.ErrUnavailable) {
		t.Fatalf("unexpected Prepare error for a missing database; got %v; want an error that is not ErrUnavailable", err)
	}
}

// TestWriter_WaitsForSchema: a writer on a database that answers but was
// never migrated spools instead of COPYing into a missing table (which
// would refuse, and drop, every packet); once Prepare migrates, the spool
// is written.
func TestWriter_WaitsForSchema(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	db := connect(t, dsn)
	sp := openSpool(t, t.TempDir(), 0)
	w := store.NewWriter(db, fastWriterConfig(sp))
	in, stop := runWriter(t, w, context.Background())

	const n = 300
	send(in, calls("unmigrated", n))
	deadline := time.Now().Add(10 * time.Second)
	for w.Stats().Spooled < n {
		if time.Now().After(deadline) {
			t.Fatalf("packets not spooled before the schema exists: %+v", w.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := w.Stats(); st.Stored != 0 || st.Rejected != 0 {
		t.Fatalf("unexpected writes before the schema exists: %+v", st)
	}
	if _, _, err := db.Packets(context.Background(), hepvault.Filter{Limit: 1}); !errors.Is(err, hepvault.ErrUnavailable) {
		t.Fatalf("unexpected query error before Prepare; got %v; want ErrUnavailable", err)
	}

	if err := db.Prepare(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	for w.Stats().Stored < n || !sp.Empty() {
		if time.Now().After(deadline) {
			t.Fatalf("spool not written after Prepare: %+v", w.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if rows, distinct := countStored(t, dsn); rows != n || distinct != n {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want %d each", rows, distinct, n)
	}
	if st := w.Stats(); st.Rejected != 0 || st.Replayed != n {
		t.Fatalf("unexpected counters: %+v", st)
	}
}
