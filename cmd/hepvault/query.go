package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
)

func runQuery(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	from := fs.String("from", "", "first capture time, inclusive (RFC 3339, unix seconds, or date output)")
	to := fs.String("to", "", "end of the window, exclusive")
	limit := fs.Int("limit", 0, "how many packets (default 100, at most 10000; with --pcap any number, fetched --page at a time)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of text")
	pcapFile := fs.String("pcap", "", "write the packets to this pcap file (- for stdout) instead of printing them")
	page := fs.Int("page", maxPage, "with --pcap: packets asked for per request, at most 10000")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "API token, when hepvault serve has --api-token (env HEPVAULT_API_TOKEN)")
	filters := map[string]*string{}
	// A filter given a comma-separated list (--method INVITE,BYE) matches
	// any of its values; the API reads and checks them.
	for _, f := range []struct{ flag, param, help string }{
		{"kind", "kind", "request, response or invalid; or a comma-separated list of them"},
		{"method", "method", "request method (INVITE, REGISTER, ...); or a comma-separated list (INVITE,BYE)"},
		{"status", "status", "response status code (404, ...); or a comma-separated list (486,487)"},
		{"status-class", "status_class", "response status class, 1xx to 6xx; or a comma-separated list (4xx,5xx)"},
		{"call-id", "call_id", "Call-ID"},
		{"correlation-id", "correlation_id", "HEP correlation id"},
		{"from-user", "from_user", "user part of the From URI (alice, +49 30 7741528: a number matches with or without + and separators)"},
		{"to-user", "to_user", "user part of the To URI"},
		{"ruri-user", "ruri_user", "user part of the Request-URI"},
		{"user", "user", "user part of any of the From, To, Request-URI and P-Asserted-Identity URIs"},
		{"src-ip", "src_ip", "source IP address; or a comma-separated list"},
		{"dst-ip", "dst_ip", "destination IP address; or a comma-separated list"},
		{"ip", "ip", "source or destination IP address; or a comma-separated list"},
		{"capture-id", "capture_id", "HEP capture agent id; or a comma-separated list"},
		{"text", "text", "text the raw message contains (reads every message of the window: needs --from and --to at most 24h apart)"},
		{"cursor", "cursor", "continue after the page that gave this cursor"},
	} {
		filters[f.param] = fs.String(f.flag, "", f.help)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pcapFile != "" && *asJSON {
		return usagef("query: give --pcap or --json, not both")
	}
	if *page < 1 || *page > maxPage {
		return usagef("query: --page must be 1 to %d, not %d", maxPage, *page)
	}
	q, err := windowQuery(*from, *to, filters)
	if err != nil {
		return err
	}
	base := strings.TrimRight(*server, "/")
	if *pcapFile != "" {
		n := *limit
		if n == 0 {
			n = defaultLimit
		}
		if n < 0 {
			return usagef("query: --limit must be positive, not %d", n)
		}
		if w := coverageWarning(ctx, base, q, *token); w != "" {
			fmt.Fprintln(stderr, w)
		}
		return queryPcap(ctx, base, q, *token, n, *page, *pcapFile, stdout, stderr)
	}
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	if !*asJSON {
		q.Set("format", "text")
	}
	body, err := get(ctx, base+"/api/v1/packets?"+q.Encode(), *token)
	if err != nil {
		return err
	}
	if w := coverageWarning(ctx, base, q, *token); w != "" {
		fmt.Fprintln(stderr, w)
	}
	_, err = stdout.Write(body)
	return err
}

// get fetches url and returns the body of a 200 answer; any other answer
// becomes an error carrying the API's own message.
func get(ctx context.Context, u, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, usagef("--server: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach hepvault at %s (is `hepvault serve` running? --server or HEPVAULT_SERVER says where): %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("hepvault answered %d: %s", resp.StatusCode, e.Error)
		}
		return nil, fmt.Errorf("hepvault answered %s", resp.Status)
	}
	return body, nil
}

// windowQuery turns --from and --to (either may be empty) and the filters
// given into the API's parameters. Times are read here, so a typo fails
// before any request is sent.
func windowQuery(from, to string, filters map[string]*string) (url.Values, error) {
	q := url.Values{}
	for name, v := range map[string]string{"from": from, "to": to} {
		if v == "" {
			continue
		}
		t, err := hepvault.ParseTime(v)
		if err != nil {
			return nil, usageError{fmt.Errorf("--%s: %w", name, err)}
		}
		q.Set(name, t.Format(time.RFC3339Nano))
	}
	for param, v := range filters {
		if *v != "" {
			q.Set(param, *v)
		}
	}
	return q, nil
}
