package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/internal/seed"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// benchServer serves the API over a real database seeded with 20,000
// realistic packets (~20 s of a busy proxy's traffic at 1,000/s), so a
// 1-minute window holds more than the 100 packets of a first page.
func benchServer(b *testing.B) (*api.Server, []hepvault.Packet) {
	b.Helper()
	db, dsn := migratedDB(b)
	ctx := context.Background()
	pkts := seed.New(seed.Config{Start: time.Now().Add(-time.Hour).Truncate(time.Minute), Rate: 1000, Seed: 7}).Packets(20000)
	w := store.NewWriter(db, store.DefaultWriterConfig())
	for i := 0; i < len(pkts); i += 2000 {
		if err := w.WriteBatch(ctx, pkts[i:min(len(pkts), i+2000)]); err != nil {
			b.Fatal(err)
		}
	}
	// As after autovacuum: without statistics the planner may scan a whole
	// partition for the window.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE packets"); err != nil {
		b.Fatal(err)
	}
	return api.New(db, nil, nil), pkts
}

// BenchmarkHandler times the whole HTTP handler path of the two questions
// of issue 4 (routing, parameters, store query, decoding, JSON or text
// answer) without a network: the first 100 packets of a 1-minute window,
// and every packet of one Call-ID.
func BenchmarkHandler(b *testing.B) {
	srv, pkts := benchServer(b)
	from := pkts[0].CapturedAt.Truncate(time.Second)
	window := "/api/v1/packets?limit=100&from=" + url.QueryEscape(from.Format(time.RFC3339Nano)) +
		"&to=" + url.QueryEscape(from.Add(time.Minute).Format(time.RFC3339Nano))
	call := "/api/v1/calls/" + url.PathEscape(pkts[len(pkts)/2].CallID)
	run := func(name, path string) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			cpu := cpuTime()
			for b.Loop() {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("unexpected status %d; body %s", rec.Code, rec.Body)
				}
				b.SetBytes(int64(rec.Body.Len()))
			}
			// Wall time includes waiting for PostgreSQL (another process) on
			// a shared machine; this process's CPU per request is what the
			// handler path costs.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
	run("Window100", window)
	run("Window100Text", window+"&format=text")
	run("Call", call)
}

// cpuTime is the user and system CPU this process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
