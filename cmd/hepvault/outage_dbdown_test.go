package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testStartedWhileDatabaseDown: hepvault restarted during an outage starts
// anyway, says the database is down, spools what agents send, and once
// PostgreSQL answers migrates the (fresh) database in the background and
// writes every packet once.
func testStartedWhileDatabaseDown(t *testing.T, pg *outagePG) {
	dsn := freshDatabase(t, pg, "dbdown")
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	hv := startHepvault(t, "--db", dsn, "--hep-udp", "", "--hep-tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--spool-dir", t.TempDir())
	if !strings.Contains(hv.log(), "database unreachable at start") {
		t.Fatalf("no warning that the database is unreachable:\n%s", hv.log())
	}
	var h struct{ Database string }
	if code := getJSON(t, hv, "/healthz", &h); code != http.StatusOK || h.Database != "down" {
		t.Fatalf("unexpected /healthz; got %d database %q; want 200 database \"down\"", code, h.Database)
	}
	if code := getJSON(t, hv, "/readyz", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("unexpected /readyz status; got %d; want 503", code)
	}
	var qerr struct{ Error string }
	if code := getJSON(t, hv, "/api/v1/packets?limit=1", &qerr); code != http.StatusServiceUnavailable || qerr.Error == "" {
		t.Fatalf("unexpected query answer; got %d %q; want 503 with an error", code, qerr.Error)
	}

	const n = 2000
	conn, err := net.Dial("tcp", hv.hepTCP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if k, err := pacedSend(conn, hepTraffic("db-down-at-start", n), 5000); err != nil || k != n {
		t.Fatalf("sent %d of %d: %v", k, n, err)
	}
	waitUntil(t, 10*time.Second, "every packet spooled", func() bool { return hv.metric(t, "hepvault_spooled_total") == n })

	pg.restart(t)
	waitUntil(t, 15*time.Second, "/readyz 200 and the spool replayed", func() bool {
		return getJSON(t, hv, "/readyz", nil) == http.StatusOK && hv.metric(t, "hepvault_spool_bytes") == 0
	})
	if rows, distinct := countCalls(t, dsn, "db-down-at-start"); rows != n || distinct != n {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want %d each", rows, distinct, n)
	}
	if got, rejected := hv.metric(t, "hepvault_replayed_total"), hv.metric(t, "hepvault_db_rejected_total"); got != n || rejected != 0 {
		t.Fatalf("unexpected counters; got replayed %d, rejected %d; want %d, 0", got, rejected, n)
	}
	if !strings.Contains(hv.log(), "database reached") {
		t.Fatalf("no log line that the background loop reached the database:\n%s", hv.log())
	}
	if code := hv.signal(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("unexpected exit code after SIGTERM: %d\n%s", code, hv.log())
	}
}

// testWrongDatabaseFatal: what waiting cannot fix (here a database that
// does not exist) still stops serve at start, saying what to check.
func testWrongDatabaseFatal(t *testing.T, pg *outagePG) {
	u, err := url.Parse(pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database"
	cfg := serveConfig{DB: u.String(), HEPUDP: "", HEPTCP: "127.0.0.1:0", HTTP: "127.0.0.1:0", SpoolDir: t.TempDir(), SpoolMaxBytes: 1 << 20}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		s.shutdown()
		t.Fatal("serve started on a database that does not exist")
	}
	if !strings.Contains(err.Error(), "check the address") {
		t.Fatalf("unexpected error; got %q; want one saying what to check", err)
	}
}

// freshDatabase creates an empty database on pg (never migrated) and
// returns its DSN.
func freshDatabase(t *testing.T, pg *outagePG, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// getJSON GETs path from hv's API, decodes the body into v (when not nil)
// and returns the status.
func getJSON(t *testing.T, hv *hepvaultProc, path string, v any) int {
	t.Helper()
	resp, err := http.Get("http://" + hv.http + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: body: %v", path, err)
		}
	}
	return resp.StatusCode
}
