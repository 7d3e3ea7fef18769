package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/store/storetest"
)

// BenchmarkStatsHandler times the two target questions of statistics
// through the whole handler (parameters, store query, JSON) on 90 days of
// folded statistics (storetest.SeedStats): 90 days at 1 h and one day at
// 1 m, by kind (3 keys), status (40 keys) and pair (21 keys).
func BenchmarkStatsHandler(b *testing.B) {
	db, dsn := migratedDB(b)
	end := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	storetest.SeedStats(b, dsn, end, 90, 3)
	srv := api.New(db, nil, nil)
	for _, c := range []struct{ name, window string }{
		{"90d_1h", "from=2026-08-27T00:00:00Z&to=2026-11-25T00:00:00Z&step=1h"},
		{"1d_1m", "from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z&step=1m"},
	} {
		for _, by := range []string{"kind", "status", "pair"} {
			b.Run(c.name+"/"+by, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/stats?"+c.window+"&by="+by, nil)
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					srv.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("unexpected status %d; body %s", rec.Code, rec.Body)
					}
					b.SetBytes(int64(rec.Body.Len()))
				}
			})
		}
	}
}
