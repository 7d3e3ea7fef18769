package storetest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func mustConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestNewDatabase(t *testing.T) {
	var name1 string
	t.Run("isolated", func(t *testing.T) {
		a, b := mustConnect(t, NewDatabase(t)), mustConnect(t, NewDatabase(t))
		name1 = queryString(t, a, "SELECT current_database()")
		if name2 := queryString(t, b, "SELECT current_database()"); name1 == name2 {
			t.Fatalf("unexpected same database %q for two NewDatabase calls", name1)
		}
		ctx := context.Background()
		if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
			t.Fatal(err)
		}
		if got := queryString(t, b, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'only_in_a'"); got != "0" {
			t.Fatalf("unexpected table from the other database; got count %s; want 0", got)
		}
	})

	// The subtest's cleanup has dropped its databases, open connections
	// notwithstanding.
	admin := mustConnect(t, DSN(t))
	if got := queryString(t, admin, "SELECT count(*)::text FROM pg_database WHERE datname = $1", name1); got != "0" {
		t.Fatalf("unexpected database %s left after cleanup", name1)
	}
}

func TestWithDatabase(t *testing.T) {
	f := func(dsn, want string) {
		t.Helper()
		got, err := withDatabase(dsn, "hv_test_1")
		if err != nil || got != want {
			t.Fatalf("unexpected DSN for %q; got %q, %v; want %q", dsn, got, err, want)
		}
	}
	f("postgres://u@127.0.0.1:5432/hepvault?sslmode=disable", "postgres://u@127.0.0.1:5432/hv_test_1?sslmode=disable")
	f("postgresql://u:p@h/", "postgresql://u:p@h/hv_test_1")
	f("host=h user=u dbname=x", "host=h user=u dbname=x dbname=hv_test_1")
}
