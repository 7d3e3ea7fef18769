package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/store"
)

// GET /api/v1/seals lists the seals as seals export prints them.
func TestSeals(t *testing.T) {
	srv, db, _ := newServerDSN(t)
	if _, err := db.SealDays(context.Background(), time.Now(), store.DefaultSealConfig()); err != nil {
		t.Fatal(err)
	}
	day := base.UTC().Truncate(24 * time.Hour)
	code, body := get(t, srv, "/api/v1/seals?from="+day.Format(time.RFC3339)+"&to="+day.Add(24*time.Hour).Format(time.RFC3339))
	var got struct {
		Seals []store.Seal `json:"seals"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || len(got.Seals) != 1 ||
		!got.Seals[0].Day.Equal(day) || got.Seals[0].Count == 0 {
		t.Fatalf("unexpected seals of %s; got %d %s; want one with packets", day.Format(time.DateOnly), code, body)
	}
	code, body = get(t, srv, "/api/v1/seals?from="+day.Add(-48*time.Hour).Format(time.RFC3339)+"&to="+day.Add(-24*time.Hour).Format(time.RFC3339))
	if code != http.StatusOK || body != `{"seals":[]}` {
		t.Fatalf("unexpected seals of a day without; got %d %s", code, body)
	}
	for _, q := range []string{"day=2026-12-03", "from=yesterday", "from=2026-12-03T00:00:00Z&to=2026-12-02T00:00:00Z"} {
		code, body := get(t, srv, "/api/v1/seals?"+q)
		if code != http.StatusBadRequest || strings.Contains(body, "SQLSTATE") {
			t.Errorf("%s: unexpected answer; got %d %s; want 400 saying why", q, code, body)
		}
	}
}
