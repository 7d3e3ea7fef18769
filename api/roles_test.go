package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/store"
)

func tokenLine(name, role, token string) string {
	sum := sha256.Sum256([]byte(token))
	return name + " " + role + " " + hex.EncodeToString(sum[:]) + "\n"
}

// newRolesServer serves the API with three named tokens (reader, exporter,
// auditor), the single admin token "legacy", and an access log.
func newRolesServer(t *testing.T) (*httptest.Server, *store.DB, *store.AccessLogger) {
	t.Helper()
	_, db := newServer(t)
	tokens, err := api.ParseTokens(strings.NewReader("# who may do what\n" +
		tokenLine("reader", "read", "tok-read") + tokenLine("exporter", "export", "tok-export") + "\n" +
		tokenLine("auditor", "admin", "tok-admin")))
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.DefaultAccessConfig()
	cfg.Tokens, cfg.Token = tokens, "tok-legacy"
	s := api.New(db, promText("hepvault_up 1\n"), nil)
	l := store.NewAccessLogger(db, nil, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	s.SetAccessLog(l)
	s.SetAccess(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, db, l
}

func TestAccess_Roles(t *testing.T) {
	srv, _, _ := newRolesServer(t)
	f := func(method, path, token string, want int, wantMsg string) {
		t.Helper()
		body := ""
		if method == http.MethodPost {
			body = `{"call_id":"call-1@x","reason":"case 1"}`
		}
		code, got, _ := do(t, srv, method, path, "Bearer "+token, body)
		if code != want {
			t.Fatalf("%s %s as %s: unexpected status %d; want %d: %s", method, path, token, code, want, got)
		}
		if wantMsg != "" && !strings.Contains(got, wantMsg) {
			t.Fatalf("%s %s as %s: unexpected answer %s; want it to say %q", method, path, token, got, wantMsg)
		}
	}
	win := "from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z"
	for _, tok := range []string{"tok-read", "tok-export", "tok-admin", "tok-legacy"} {
		f("GET", "/api/v1/packets", tok, 200, "")
		f("GET", "/api/v1/calls", tok, 200, "")
		f("GET", "/api/v1/calls/call-1@x", tok, 200, "")
		f("GET", "/api/v1/stats?"+win+"&step=1m&by=method", tok, 200, "")
		f("GET", "/api/v1/coverage?"+win, tok, 200, "")
		f("GET", "/metrics", tok, 200, "")
	}
	f("GET", "/api/v1/packets?format=pcap", "tok-read", 403, `needs a token with the export role; token \"reader\" has the read role`)
	f("GET", "/api/v1/calls/call-1@x?format=pcap", "tok-read", 403, "export role")
	for _, tok := range []string{"tok-export", "tok-admin"} {
		f("GET", "/api/v1/packets?format=pcap", tok, 200, "")
		f("GET", "/api/v1/calls/call-1@x?format=pcap", tok, 200, "")
	}
	for _, tok := range []string{"tok-read", "tok-export"} {
		f("GET", "/api/v1/access-log?"+win, tok, 403, "needs a token with the admin role")
		f("GET", "/api/v1/holds", tok, 403, "admin role")
		f("POST", "/api/v1/holds", tok, 403, "admin role")
		f("DELETE", "/api/v1/holds/1", tok, 403, "admin role")
	}
	f("GET", "/api/v1/access-log?"+win, "tok-admin", 200, `"entries"`)
	f("POST", "/api/v1/holds", "tok-admin", 201, `"created_by":"auditor"`)
	f("GET", "/api/v1/holds", "tok-legacy", 200, `"reason":"case 1"`)
	f("DELETE", "/api/v1/holds/1", "tok-legacy", 200, `"ended_by":"default"`)
	f("DELETE", "/api/v1/holds/1", "tok-admin", 404, "no hold 1 in force")
	f("GET", "/api/v1/packets", "tok-nobody", 401, "missing or wrong API token")
}

func TestAccess_Log(t *testing.T) {
	srv, db, l := newRolesServer(t)
	start := time.Now().UTC()
	calls := []struct {
		method, path, token, body string
	}{
		{"GET", "/api/v1/packets?limit=2", "tok-read", ""},
		{"GET", "/api/v1/calls/call-1@x?format=pcap", "tok-export", ""},
		{"GET", "/api/v1/packets?format=pcap", "tok-read", ""},                                                     // refused: logged too
		{"GET", "/api/v1/stats?from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z&step=1m&by=kind", "tok-read", ""}, // no packets: not logged
		{"POST", "/api/v1/holds", "tok-admin", `{"filter":"method=INVITE&from=2026-11-25T12:00:00Z&to=2026-11-26T00:00:00Z","reason":"fraud"}`},
		{"GET", "/api/v1/recordings?from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z", "tok-read", ""},
	}
	for _, c := range calls {
		do(t, srv, c.method, c.path, "Bearer "+c.token, c.body)
	}
	_, callBody, _ := do(t, srv, "GET", "/api/v1/calls/call-1@x", "Bearer tok-legacy", "")
	var call struct{ Packets []json.RawMessage }
	if err := json.Unmarshal([]byte(callBody), &call); err != nil || len(call.Packets) < 2 {
		t.Fatalf("unexpected call: %s", callBody)
	}
	var es []store.AccessEntry
	deadline := time.Now().Add(10 * time.Second)
	for len(es) < 6 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		var err error
		if es, err = db.AccessLog(context.Background(), store.AccessQuery{From: start.Add(-time.Second), To: time.Now().Add(time.Second), Limit: 100}); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		token, route, params string
		status, returned     int
	}
	want := []row{
		{"reader", "/api/v1/packets", "limit=2", 200, 2},
		{"exporter", "/api/v1/calls/:call_id", "format=pcap&call_id=call-1@x", 200, len(call.Packets)},
		{"reader", "/api/v1/packets", "format=pcap", 403, 0},
		{"auditor", "/api/v1/holds", "", 201, 1},
		{"reader", "/api/v1/recordings", "from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z", 200, 0},
		{"default", "/api/v1/calls/:call_id", "call_id=call-1@x", 200, len(call.Packets)},
	}
	if len(es) != len(want) {
		t.Fatalf("unexpected access log rows; got %+v; want %d", es, len(want))
	}
	for i, w := range want {
		e := es[i]
		got := row{e.Token, e.Route, e.Params, e.Status, e.Returned}
		if w.params == "" {
			got.params = ""
			if !strings.Contains(e.Params, "reason=fraud") || !strings.Contains(e.Params, "hold=1") {
				t.Fatalf("unexpected hold parameters %q; want the hold's id and reason", e.Params)
			}
		}
		if got != w || e.Client != "127.0.0.1" || e.At.Before(start.Add(-time.Second)) {
			t.Fatalf("unexpected access log row %d; got %+v; want %+v from 127.0.0.1", i, e, w)
		}
	}
	if l.Dropped() != 0 {
		t.Fatalf("unexpected lost entries: %d", l.Dropped())
	}
	// Admins read it over the API.
	code, body, _ := do(t, srv, "GET", "/api/v1/access-log?token=exporter&from="+start.Add(-time.Second).Format(time.RFC3339Nano)+
		"&to="+time.Now().Add(time.Second).Format(time.RFC3339Nano), "Bearer tok-admin", "")
	var a struct{ Entries []store.AccessEntry }
	if err := json.Unmarshal([]byte(body), &a); code != 200 || err != nil || len(a.Entries) != 1 || a.Entries[0].Returned != len(call.Packets) {
		t.Fatalf("unexpected access-log answer: %d %s", code, body)
	}
}

func TestAccess_HoldRequests_Failure(t *testing.T) {
	srv, _, _ := newRolesServer(t)
	f := func(body, want string) {
		t.Helper()
		code, got, _ := do(t, srv, "POST", "/api/v1/holds", "Bearer tok-admin", body)
		if code/100 != 4 || !strings.Contains(got, want) {
			t.Fatalf("POST holds %s: unexpected answer %d %s; want 4xx saying %q", body, code, got, want)
		}
	}
	f(``, "the body is empty")
	f(`{"reason":"x"}`, "give call_id or filter")
	f(`{"call_id":"a","filter":"method=INVITE","reason":"x"}`, "give call_id or filter")
	f(`{"call_id":"call-1@x"}`, "reason is required")
	f(`{"call_id":"no-such-call","reason":"x"}`, "no packets with Call-ID no-such-call")
	f(`{"filter":"method=INVITE","reason":"x"}`, "from is missing")
	f(`{"filter":"nope=1&from=1&to=2","reason":"x"}`, `unknown parameter \"nope\"`)
	f(`{"filter":"limit=5&from=1&to=2","reason":"x"}`, "limit has no place in a hold")
	f(`{"call_id":"a","reason":"x","extra":1}`, "unknown field")
	f(`{"call_id":"a","reason":"x","from":"2026-11-25T12:00:00","to":"2026-11-25T13:00:00Z"}`, "from:")
}

func TestParseTokens_Success(t *testing.T) {
	ts, err := api.ParseTokens(strings.NewReader("\n# comment\n  a.b-c_1\tadmin  " + strings.Repeat("AB", 32) + "  \n" + tokenLine("r", "read", "x")))
	if err != nil || len(ts) != 2 || ts[0].Name != "a.b-c_1" || ts[0].Role != api.RoleAdmin || ts[1].Role != api.RoleRead {
		t.Fatalf("unexpected tokens; got %+v, %v", ts, err)
	}
	tok, line, err := api.NewToken("ops", api.RoleExport)
	if err != nil {
		t.Fatal(err)
	}
	ts, err = api.ParseTokens(strings.NewReader(line))
	if err != nil || len(ts) != 1 || ts[0].Hash != sha256.Sum256([]byte(tok)) || ts[0].Role != api.RoleExport {
		t.Fatalf("unexpected reading of a new token's line %q; got %+v, %v", line, ts, err)
	}
}

func TestParseTokens_Failure(t *testing.T) {
	h := strings.Repeat("ab", 32)
	f := func(in, want string) {
		t.Helper()
		_, err := api.ParseTokens(strings.NewReader(in))
		if !errors.Is(err, api.ErrTokens) || !strings.Contains(err.Error(), want) {
			t.Fatalf("unexpected error for %q; got %v; want ErrTokens saying %q", in, err, want)
		}
	}
	f("a read", "got 2 fields")
	f("a read "+h+" extra", "got 4 fields")
	f("a writer "+h, `role "writer"`)
	f("a read "+h[:62], "want 64 hex digits")
	f("a read "+strings.Repeat("zz", 32), "not hex")
	f("a/b read "+h, `name "a/b"`)
	f(strings.Repeat("n", 65)+" read "+h, "name")
	f("a read "+h+"\nb admin "+h, "line 2: token \"b\" or its hash is given twice")
	f("a read "+h+"\na admin "+strings.Repeat("cd", 32), "given twice")
	f(strings.Repeat("x", 5000), "too long")
}

func FuzzParseTokens(f *testing.F) {
	f.Add("a read " + strings.Repeat("ab", 32) + "\n# c\n")
	f.Add("x admin 00\n")
	f.Fuzz(func(t *testing.T, in string) {
		ts, err := api.ParseTokens(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, api.ErrTokens) {
				t.Fatalf("error does not wrap ErrTokens: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, tok := range ts {
			if tok.Name == "" || seen[tok.Name] || tok.Role < api.RoleRead || tok.Role > api.RoleAdmin {
				t.Fatalf("bad token read from %q: %+v", in, tok)
			}
			seen[tok.Name] = true
		}
	})
}
