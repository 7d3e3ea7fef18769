package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sqlCount runs a count over the packets view straight in PostgreSQL: what
// the database holds. The API drops a packet stored twice when it reads, so
// an "exactly once" check must count here too.
func sqlCount(t *testing.T, dsn, query string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to count: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("count (%s): %v", query, err)
	}
	return n
}

// storedInDB is how many packets the database holds, duplicates included.
func storedInDB(t *testing.T, dsn string) int {
	t.Helper()
	return sqlCount(t, dsn, `SELECT count(*) FROM packets`)
}
