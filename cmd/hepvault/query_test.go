package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestQuery_FlagsToParams checks what `hepvault query` asks the API for
// each flag, against a fake API that records the query it gets.
func TestQuery_FlagsToParams(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/packets" { // not the coverage check of a window
			got = r.URL.Query()
		}
		io.WriteString(w, "no packets match\n")
	}))
	defer srv.Close()
	f := func(args []string, want url.Values) {
		t.Helper()
		got = nil
		var out, errOut bytes.Buffer
		args = append([]string{"query", "--server", srv.URL}, args...)
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
			t.Fatalf("%q: unexpected error; got %v; want nil (%s)", args, err, errOut.String())
		}
		if !slices.Contains(args, "--json") {
			want.Set("format", "text")
		}
		if got.Encode() != want.Encode() {
			t.Fatalf("%q: unexpected query; got %s; want %s", args, got.Encode(), want.Encode())
		}
	}
	f(nil, url.Values{})
	f([]string{"--json", "--method", "ack"}, url.Values{"method": {"ack"}})
	f([]string{"--method", "INVITE,BYE", "--status", "486,487", "--status-class", "4xx,5xx", "--kind", "request,response"},
		url.Values{"method": {"INVITE,BYE"}, "status": {"486,487"}, "status_class": {"4xx,5xx"}, "kind": {"request,response"}})
	f([]string{"--src-ip", "10.0.0.1,10.0.0.2", "--dst-ip", "::1", "--ip", "192.0.2.1", "--capture-id", "1,4242"},
		url.Values{"src_ip": {"10.0.0.1,10.0.0.2"}, "dst_ip": {"::1"}, "ip": {"192.0.2.1"}, "capture_id": {"1,4242"}})
	f([]string{"--call-id", "a84b@pc33", "--correlation-id", "corr-1"}, url.Values{"call_id": {"a84b@pc33"}, "correlation_id": {"corr-1"}})
	f([]string{"--from-user", "alice", "--to-user", "+49 30 7741528", "--ruri-user", "bob", "--user", "1001"},
		url.Values{"from_user": {"alice"}, "to_user": {"+49 30 7741528"}, "ruri_user": {"bob"}, "user": {"1001"}})
	f([]string{"--text", "X-Foo: a&b", "--from", "2026-11-25T12:00:00Z", "--to", "2026-11-25T13:00:00Z"},
		url.Values{"text": {"X-Foo: a&b"}, "from": {"2026-11-25T12:00:00Z"}, "to": {"2026-11-25T13:00:00Z"}})
	f([]string{"--cursor", "abc", "--limit", "5"}, url.Values{"cursor": {"abc"}, "limit": {"5"}})
}

// TestQuery_APIError checks that the API's refusal of a parameter reaches
// the user with the API's own words.
func TestQuery_APIError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid request: text= searches the raw messages one by one, so it needs from and to at most 24h apart; neither is given"}`)
	}))
	defer srv.Close()
	err := run(context.Background(), []string{"query", "--server", srv.URL, "--text", "BYE"}, func(string) string { return "" }, io.Discard, io.Discard)
	var ue usageError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "needs from and to") {
		t.Fatalf("unexpected error; got %v; want the API's 400 and its message", err)
	}
}
