package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store/storetest"
)

// TestServe_TokenAndAllowList runs hepvault with an API token and an allow
// list that leaves loopback out, then with one that lets it in.
func TestServe_TokenAndAllowList(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	start := func(allow string) *server {
		t.Helper()
		cfg := serveConfig{
			DB: storetest.NewDatabase(t), HEPUDP: "127.0.0.1:0", HEPTCP: "127.0.0.1:0", HTTP: "127.0.0.1:0",
			ShutdownTimeout: 20 * time.Second,
			Guard:           guardConfig{APIToken: "tok-123", HEPAllow: allow, QueryTimeout: 10 * time.Second},
		}
		s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.shutdown() })
		return s
	}
	query := func(s *server, token string) (string, error) {
		var out, errOut bytes.Buffer
		env := func(name string) string {
			if name == "HEPVAULT_API_TOKEN" {
				return token
			}
			return ""
		}
		err := run(context.Background(), []string{"query", "--server", s.url(""), "--limit", "3"}, env, &out, &errOut)
		return out.String(), err
	}

	s := start("192.0.2.0/24")
	sendUDPInStep(t, s, recs[:5])
	conn, err := net.Dial("tcp", s.col.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("TCP from a source not allowed: unexpected read result %v; want EOF", err)
	}
	conn.Close()
	m := s.col.Metrics()
	deadline := time.Now().Add(5 * time.Second)
	for m.UDPDatagrams.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unexpected /metrics status without the token: %d", resp.StatusCode)
	}
	// A datagram is counted as received before it is judged: poll until
	// the reader has counted its drops too.
	wants := []string{`hepvault_dropped_total{reason="not_allowed"} 5`, `hepvault_tcp_connections_closed_total{reason="not_allowed"} 1`,
		"hepvault_queued_total 0", "hepvault_udp_kernel_drops_total 0"}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, s.url("/metrics"), nil)
		req.Header.Set("Authorization", "Bearer tok-123")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing := ""
		for _, want := range wants {
			if !strings.Contains(string(metrics), want) {
				missing = want
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q:\n%s", missing, metrics)
		}
	}

	s = start("127.0.0.0/8")
	sendUDPInStep(t, s, recs[:5])
	if _, err := query(s, ""); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "token") {
		t.Fatalf("query without the token: unexpected error %v", err)
	}
	if _, err := query(s, "nope"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("query with a wrong token: unexpected error %v", err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		out, err := query(s, "tok-123")
		if err != nil {
			t.Fatalf("query with the token: %v", err)
		}
		if strings.Count(out, "\n#") >= 2 || time.Now().After(deadline) { // the first head has no newline before it
			if !strings.HasPrefix(out, "#1 ") || strings.Count(out, "\n#") != 2 {
				t.Fatalf("unexpected answer with the token:\n%s", out)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"query", "--server", s.url(""), "--token", "tok-123", "--limit", "1"}, func(string) string { return "" }, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "#1 ") {
		t.Fatalf("query --token: unexpected result %v:\n%s", err, out.String())
	}
	resp, err = http.Get(s.url("/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unexpected /healthz status without a token: %d", resp.StatusCode)
	}
}

func TestServe_GuardFlagsFailure(t *testing.T) {
	f := func(args []string, env map[string]string, wantInError string) {
		t.Helper()
		var errOut bytes.Buffer
		err := run(context.Background(), append([]string{"serve"}, args...), func(k string) string { return env[k] }, io.Discard, &errOut)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), wantInError) {
			t.Fatalf("%v %v: unexpected error %v; want a usage error with %q", args, env, err, wantInError)
		}
	}
	f([]string{"--hep-allow", "10.0.0.0/33"}, nil, "--hep-allow")
	f([]string{"--hep-allow", "example.com"}, nil, "example.com")
	f(nil, map[string]string{"HEPVAULT_HEP_ALLOW": "10.0.0/8"}, "--hep-allow")
	f(nil, map[string]string{"HEPVAULT_UDP_READ_BUFFER": "16M"}, "HEPVAULT_UDP_READ_BUFFER")
	f(nil, map[string]string{"HEPVAULT_TCP_MAX_CONNS": "many"}, "HEPVAULT_TCP_MAX_CONNS")
	f([]string{"--tcp-max-conns", "-1"}, nil, "negative")
	f([]string{"--udp-read-buffer", "lots"}, nil, "udp-read-buffer")
}

// TestServe_HTTPLimits checks the HTTP server's own limits are wired: an
// oversized header block and a request body are refused before any handler.
func TestServe_HTTPLimits(t *testing.T) {
	s := startTestServer(t)
	req, _ := http.NewRequest(http.MethodGet, s.url("/api/v1/packets"), nil)
	req.Header.Set("X-Big", strings.Repeat("a", 200<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("unexpected status for a 200 KiB header; got %d; want 431", resp.StatusCode)
	}
	resp, err = http.Post(s.url("/api/v1/packets"), "text/plain", strings.NewReader(strings.Repeat("x", 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("unexpected answer to a 1 MiB body; got %d %s; want 413", resp.StatusCode, body)
	}
}

func TestServe_APITokensFile_Failure(t *testing.T) {
	dir := t.TempDir()
	f := func(content, want string) {
		t.Helper()
		path := filepath.Join(dir, "tokens")
		if content != "" {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		} else {
			os.Remove(path)
		}
		var errOut bytes.Buffer
		err := run(context.Background(), []string{"serve", "--api-tokens", path}, func(string) string { return "" }, io.Discard, &errOut)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Fatalf("unexpected error for tokens %q; got %v; want a usage error saying %q", content, err, want)
		}
	}
	f("", "--api-tokens: open")
	f("alice read abc\n", "line 1: hash: want 64 hex digits")
	f("alice root "+strings.Repeat("ab", 32)+"\n", `role "root"`)
}
