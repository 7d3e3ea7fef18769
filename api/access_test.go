package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/api"
)

// newGuardedServer serves the API over the test database with cfg applied.
func newGuardedServer(t *testing.T, cfg api.AccessConfig) *httptest.Server {
	t.Helper()
	_, db := newServer(t)
	s := api.New(db, promText("hepvault_up 1\n"), nil)
	s.SetAccess(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// promText serves itself as /metrics.
type promText string

func (p promText) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	io.WriteString(w, string(p))
}

func do(t *testing.T, srv *httptest.Server, method, path, auth string, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestAccess_Token(t *testing.T) {
	cfg := api.DefaultAccessConfig()
	cfg.Token = "s3cret-token"
	srv := newGuardedServer(t, cfg)
	f := func(path, auth string, want int) {
		t.Helper()
		code, body, hdr := do(t, srv, http.MethodGet, path, auth, "")
		if code != want {
			t.Fatalf("GET %s with %q: unexpected status %d; want %d: %s", path, auth, code, want, body)
		}
		if want == http.StatusUnauthorized {
			if !strings.HasPrefix(body, `{"error":"missing or wrong API token`) || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("GET %s: unexpected 401 answer %q, WWW-Authenticate %q", path, body, hdr.Get("WWW-Authenticate"))
			}
		}
	}
	for _, path := range []string{"/api/v1/packets", "/api/v1/packets?format=text", "/api/v1/calls/call-1@x", "/api/v1/calls", "/metrics", "/api/v1/nope"} {
		f(path, "", http.StatusUnauthorized)
		f(path, "Bearer wrong", http.StatusUnauthorized)
		f(path, "Bearer s3cret-toke", http.StatusUnauthorized)
		f(path, "Bearer s3cret-token2", http.StatusUnauthorized)
		f(path, "Basic s3cret-token", http.StatusUnauthorized)
		f(path, "s3cret-token", http.StatusUnauthorized)
		f(path, "Bearer", http.StatusUnauthorized)
	}
	f("/api/v1/packets", "Bearer s3cret-token", http.StatusOK)
	f("/api/v1/packets", "bearer s3cret-token", http.StatusOK) // the scheme is case-insensitive (RFC 7235)
	f("/api/v1/calls/call-1@x", "Bearer s3cret-token", http.StatusOK)
	f("/api/v1/calls", "Bearer s3cret-token", http.StatusOK)
	if code, body, _ := do(t, srv, http.MethodGet, "/metrics", "Bearer s3cret-token", ""); code != http.StatusOK || body != "hepvault_up 1\n" {
		t.Fatalf("unexpected metrics answer with the token: %d %q", code, body)
	}
	f("/api/v1/nope", "Bearer s3cret-token", http.StatusNotFound)
	f("/healthz", "", http.StatusOK)
	f("/healthz", "Bearer wrong", http.StatusOK)
	f("/readyz", "", http.StatusOK)
	// The web page holds no data and asks for the token itself.
	f("/", "", http.StatusOK)
	f("/ui/app.js", "", http.StatusOK)
	f("/ui/app.css", "", http.StatusOK)
}

func TestAccess_NoTokenConfigured(t *testing.T) {
	srv := newGuardedServer(t, api.DefaultAccessConfig())
	if code, body, _ := do(t, srv, http.MethodGet, "/api/v1/packets", "", ""); code != http.StatusOK {
		t.Fatalf("unexpected status without a token configured: %d %s", code, body)
	}
}

func TestAccess_BodyLimit(t *testing.T) {
	cfg := api.DefaultAccessConfig()
	cfg.MaxBody = 1024
	srv := newGuardedServer(t, cfg)
	code, body, _ := do(t, srv, http.MethodGet, "/api/v1/packets", "", strings.Repeat("x", 2048))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"error"`) {
		t.Fatalf("unexpected answer to an oversized body: %d %s", code, body)
	}
	if code, _, _ := do(t, srv, http.MethodGet, "/api/v1/packets", "", strings.Repeat("x", 100)); code != http.StatusOK {
		t.Fatalf("unexpected status for a small body: %d", code)
	}
}

func TestAccess_QueryTimeout(t *testing.T) {
	cfg := api.DefaultAccessConfig()
	cfg.QueryTimeout = time.Nanosecond // every query runs out of time
	srv := newGuardedServer(t, cfg)
	code, body, _ := do(t, srv, http.MethodGet, "/api/v1/packets", "", "")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "deadline") {
		t.Fatalf("unexpected answer to a query past its timeout: %d %s", code, body)
	}
}
