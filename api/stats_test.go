package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type statsAnswer struct {
	Series []struct {
		Key    string `json:"key"`
		Points []struct {
			T     string `json:"t"`
			Count int64  `json:"count"`
		} `json:"points"`
	} `json:"series"`
	Error string `json:"error"`
}

func getStats(t *testing.T, path string, srvGet func(string) (int, string)) (int, statsAnswer, string) {
	t.Helper()
	code, body := srvGet(path)
	var a statsAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET %s: not JSON: %v: %s", path, err, body)
	}
	return code, a, body
}

// TestStats_Success reads the statistics of newServer's packets (12:20:33
// UTC: INVITE, 100, 180, 200, ACK, and 5 s later REGISTER).
func TestStats_Success(t *testing.T) {
	srv, _ := newServer(t)
	srvGet := func(path string) (int, string) { return get(t, srv, path) }
	f := func(query, want string) {
		t.Helper()
		code, a, body := getStats(t, "/api/v1/stats?"+query, srvGet)
		if code != http.StatusOK {
			t.Fatalf("%s: unexpected status %d: %s", query, code, body)
		}
		var parts []string
		for _, s := range a.Series {
			var pts []string
			for _, p := range s.Points {
				pts = append(pts, p.T+"="+itoa(p.Count))
			}
			parts = append(parts, s.Key+":"+strings.Join(pts, ","))
		}
		if got := strings.Join(parts, " "); got != want {
			t.Fatalf("%s: unexpected series; got %s; want %s", query, got, want)
		}
	}
	const w = "from=2026-11-25T12:20:00Z&to=2026-11-25T12:22:00Z&step=1m"
	// Requests only, by method; most frequent first, then by name.
	f(w+"&by=method", "ACK:2026-11-25T12:20:00Z=1,2026-11-25T12:21:00Z=0 INVITE:2026-11-25T12:20:00Z=1,2026-11-25T12:21:00Z=0 "+
		"REGISTER:2026-11-25T12:20:00Z=1,2026-11-25T12:21:00Z=0")
	// Responses only, by code.
	f(w+"&by=status", "100:2026-11-25T12:20:00Z=1,2026-11-25T12:21:00Z=0 180:2026-11-25T12:20:00Z=1,2026-11-25T12:21:00Z=0 "+
		"200:2026-11-25T12:20:00Z=1,2026-11-25T12:21:00Z=0")
	f(w+"&by=status_class", "1xx:2026-11-25T12:20:00Z=2,2026-11-25T12:21:00Z=0 2xx:2026-11-25T12:20:00Z=1,2026-11-25T12:21:00Z=0")
	f(w+"&by=kind", "request:2026-11-25T12:20:00Z=3,2026-11-25T12:21:00Z=0 response:2026-11-25T12:20:00Z=3,2026-11-25T12:21:00Z=0")
	f(w+"&by=capture_id", "4242:2026-11-25T12:20:00Z=6,2026-11-25T12:21:00Z=0")
	f(w+"&by=pair", "127.0.0.1 > 127.0.0.1:2026-11-25T12:20:00Z=6,2026-11-25T12:21:00Z=0")
	// The window widens to whole steps in UTC.
	f("from=2026-11-25T12:20:40Z&to=2026-11-25T12:21:00.5Z&step=1m&by=kind",
		"request:2026-11-25T12:20:00Z=3,2026-11-25T12:21:00Z=0 response:2026-11-25T12:20:00Z=3,2026-11-25T12:21:00Z=0")
	f("from=2026-11-25T13:20:33%2B01:00&to=2026-11-25T12:20:34Z&step=5m&by=kind",
		"request:2026-11-25T12:20:00Z=3 response:2026-11-25T12:20:00Z=3")
	f("from=2026-11-25T12:59:00Z&to=2026-11-25T13:00:00Z&step=1h&by=method",
		"ACK:2026-11-25T12:00:00Z=1 INVITE:2026-11-25T12:00:00Z=1 REGISTER:2026-11-25T12:00:00Z=1")
	f("from=2026-11-25T23:00:00Z&to=2026-11-26T01:00:00Z&step=1d&by=kind",
		"request:2026-11-25T00:00:00Z=3,2026-11-26T00:00:00Z=0 response:2026-11-25T00:00:00Z=3,2026-11-26T00:00:00Z=0")
	// Nothing counted: no series.
	f("from=2026-11-26T00:00:00Z&to=2026-11-26T01:00:00Z&step=1h&by=method", "")

	// The exact shape.
	_, body := get(t, srv, "/api/v1/stats?from=2026-11-25T12:20:00Z&to=2026-11-25T12:21:00Z&step=1m&by=capture_id")
	if want := `{"series":[{"key":"4242","points":[{"t":"2026-11-25T12:20:00Z","count":6}]}]}` + "\n"; body != want {
		t.Fatalf("unexpected body; got %s; want %s", body, want)
	}
}

func TestStats_Failure(t *testing.T) {
	srv, _ := newServer(t)
	srvGet := func(path string) (int, string) { return get(t, srv, path) }
	f := func(query, wantErr string) {
		t.Helper()
		code, a, body := getStats(t, "/api/v1/stats?"+query, srvGet)
		if code != http.StatusBadRequest || !strings.Contains(a.Error, wantErr) {
			t.Fatalf("%s: unexpected answer; got %d %s; want 400 saying %q", query, code, body, wantErr)
		}
	}
	const w = "from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z"
	f(w+"&by=method", `step must be 1m, 5m, 1h or 1d, not ""`)
	f(w+"&by=method&step=2m", `step must be 1m, 5m, 1h or 1d, not "2m"`)
	f(w+"&step=1m", `by must be method, status, status_class, kind, capture_id or pair, not ""`)
	f(w+"&step=1m&by=user", `not "user"`)
	f("to=2026-11-25T13:00:00Z&step=1m&by=kind", "from is missing")
	f("from=2026-11-25T13:00:00Z&step=1m&by=kind", "to is missing")
	f("from=2026-11-25T13:00:00Z&to=2026-11-25T12:00:00Z&step=1m&by=kind", "must be after from")
	f("from=2026-11-25T13:00:00Z&to=2026-11-25T13:00:00Z&step=1m&by=kind", "must be after from")
	f("from=yesterday&to=2026-11-25T13:00:00Z&step=1m&by=kind", "from:")
	f("from=2026-01-01T00:00:00Z&to=2026-11-25T13:00:00Z&step=1m&by=kind", "at most 10000 points")
	f(w+"&step=1m&by=kind&limit=5", `unknown parameter "limit"`)
	f(w+"&step=1m&by=kind&by=method", "by is given 2 times")
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
