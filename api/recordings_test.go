package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/store"
)

// newRecordingsServer serves the API over the SIPREC capture
// (testdata/FIXTURES.md) and returns its window.
func newRecordingsServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	db, _ := migratedDB(t)
	pkts := loadCapture(t, "kamailio-siprec.pcap")
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(context.Background(), pkts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(db, nil, nil))
	t.Cleanup(srv.Close)
	from := pkts[0].CapturedAt.Add(-time.Second).Format(time.RFC3339Nano)
	to := pkts[len(pkts)-1].CapturedAt.Add(time.Second).Format(time.RFC3339Nano)
	return srv, "from=" + url.QueryEscape(from) + "&to=" + url.QueryEscape(to)
}

type recordingsAnswer struct {
	Recordings []struct {
		CallID          string   `json:"call_id"`
		SessionID       string   `json:"session_id"`
		RecordedCallIDs []string `json:"recorded_call_ids"`
		Participants    []struct {
			AOR  string `json:"aor"`
			Name string `json:"name"`
		} `json:"participants"`
		Streams []struct {
			StreamID string `json:"stream_id"`
			Label    string `json:"label"`
		} `json:"streams"`
		StartedAt *string `json:"started_at"`
		EndedAt   *string `json:"ended_at"`
		State     string  `json:"state"`
	} `json:"recordings"`
	Next  string `json:"next"`
	Error string `json:"error"`
}

// TestRecordings_Success: the store's tests hold the recordings to
// tshark's reading; here the answer's shape, paging and the gaps.
func TestRecordings_Success(t *testing.T) {
	srv, window := newRecordingsServer(t)
	code, body := get(t, srv, "/api/v1/recordings?"+window)
	var a recordingsAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || code != http.StatusOK {
		t.Fatalf("unexpected answer %d: %v: %s", code, err, body)
	}
	if len(a.Recordings) != 3 || a.Next != "" {
		t.Fatalf("unexpected recordings; got %d, next %q; want 3, none: %s", len(a.Recordings), a.Next, body)
	}
	for _, r := range a.Recordings {
		if len(r.RecordedCallIDs) != 1 || !strings.HasPrefix(r.RecordedCallIDs[0], "siprec-") || len(r.Participants) != 3 ||
			len(r.Streams) != 3 || r.Streams[2].Label != "3" || r.State != "ended" || r.StartedAt == nil || r.EndedAt == nil ||
			r.SessionID == "" || r.Participants[2].Name != "Supervisor" {
			t.Fatalf("unexpected recording: %+v", r)
		}
	}
	// Paging one at a time gives the same three.
	var paged []string
	for cursor := ""; ; {
		q := window + "&limit=1"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		_, body := get(t, srv, "/api/v1/recordings?"+q)
		var p recordingsAnswer
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Recordings {
			paged = append(paged, r.CallID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	var all []string
	for _, r := range a.Recordings {
		all = append(all, r.CallID)
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("unexpected pages; got %q; want %q", paged, all)
	}
	// A participant's user.
	_, body = get(t, srv, "/api/v1/recordings?"+window+"&user=dave")
	var d recordingsAnswer
	if err := json.Unmarshal([]byte(body), &d); err != nil || len(d.Recordings) != 1 || !strings.HasPrefix(d.Recordings[0].RecordedCallIDs[0], "siprec-d-") {
		t.Fatalf("unexpected recordings of dave: %v: %s", err, body)
	}

	code, body = get(t, srv, "/api/v1/recordings/gaps?"+window)
	var g struct {
		Gaps []struct {
			CallID string `json:"call_id"`
			Reason string `json:"reason"`
		} `json:"gaps"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil || code != http.StatusOK {
		t.Fatalf("unexpected gaps answer %d: %v: %s", code, err, body)
	}
	got := map[string]string{}
	for _, gap := range g.Gaps {
		got[gap.CallID[:9]] = gap.Reason
	}
	if len(g.Gaps) != 2 || got["siprec-c-"] != "unrecorded" || got["siprec-b-"] != "ended_early" {
		t.Fatalf("unexpected gaps; got %v; want siprec-c- unrecorded, siprec-b- ended_early", got)
	}
}

func TestRecordings_Failure(t *testing.T) {
	srv, _ := newServer(t)
	f := func(path, want string) {
		t.Helper()
		code, body := get(t, srv, path)
		var a struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &a); err != nil || code != http.StatusBadRequest || !strings.Contains(a.Error, want) {
			t.Fatalf("GET %s: unexpected answer %d %s; want 400 saying %q", path, code, body, want)
		}
	}
	f("/api/v1/recordings", "from is required")
	f("/api/v1/recordings?from=1700000000", "to is required")
	f("/api/v1/recordings?from=1700000000&to=1600000000", "must be after")
	f("/api/v1/recordings?from=1700000000&to=1700000001&limit=0", "limit must be")
	f("/api/v1/recordings?from=1700000000&to=1700000001&cursor=x", "cursor")
	f("/api/v1/recordings?from=1700000000&to=1700000001&usr=a", `unknown parameter "usr"`)
	f("/api/v1/recordings?from=1700000000&to=1700000001&user=a&user=b", "given 2 times")
	f("/api/v1/recordings?from=2026-01-01T00:00:00&to=1700000001", "from")
	f("/api/v1/recordings/gaps?from=1700000000&to=1800000000", "at most 744h apart")
	f("/api/v1/recordings/gaps?from=1700000000&to=1700000001&user=a", `unknown parameter "user"`)
}
