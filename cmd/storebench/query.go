package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// runQuery times four questions through the HTTP API, one request at a
// time: the first 100 packets of a random 1-minute window of the stored
// span, every packet of a random Call-ID seen in those windows, the first
// 100 INVITE calls of a random 1-hour window, and the calls of a number
// seen in the windows (as From user) over the whole span.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", stderr)
	dsn := fs.String("db", "", "PostgreSQL DSN, to find the stored time span")
	base := fs.String("url", "http://127.0.0.1:9080", "hepvault's HTTP API")
	n := fs.Int("n", 1000, "requests of each kind")
	window := fs.Duration("window", time.Minute, "window length")
	limit := fs.Int("limit", 100, "packets per window request")
	seedN := fs.Uint64("seed", 7, "random seed")
	direct := fs.Bool("direct", false, "call the store directly instead of the HTTP API, to see what the API adds")
	callWindow := fs.Duration("call-window", time.Hour, "window of the INVITE calls question")
	filters := fs.Bool("filters", false, "then time the first -limit matches of each filter over the whole span, -n requests each")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process here (with -direct: the store's read path)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		return err
	}
	var lo, hi time.Time
	var rows int64
	err = conn.QueryRow(ctx, `SELECT min(first_at), max(last_at), coalesce(sum(count), 0)::bigint FROM packet_blocks`).Scan(&lo, &hi, &rows)
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("find the stored span: %w", err)
	}
	fmt.Fprintf(stdout, "stored span %s .. %s (%s), %d packets\n", lo.Format(time.RFC3339), hi.Format(time.RFC3339), hi.Sub(lo).Round(time.Minute), rows)

	client := &http.Client{Timeout: 10 * time.Second}
	getCalls := getCalls
	get := func(ctx context.Context, u string) ([]packet, time.Duration, error) { return get(ctx, client, u) }
	if *direct {
		cfg := store.DefaultConfig()
		cfg.DSN = *dsn
		db, err := store.Open(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		get = func(ctx context.Context, u string) ([]packet, time.Duration, error) { return getDirect(ctx, db, u) }
		getCalls = func(ctx context.Context, _ *http.Client, u string) (int, time.Duration, error) {
			return getCallsDirect(ctx, db, u)
		}
	}
	rng := rand.New(rand.NewPCG(*seedN, 1))
	var callIDs []string
	var seen []packet
	var winLat, callLat []time.Duration
	var winPkts, callPkts int
	for range *n {
		from := lo.Add(time.Duration(rng.Int64N(int64(hi.Sub(lo) - *window))))
		u := *base + "/api/v1/packets?" + url.Values{
			"from": {from.Format(time.RFC3339Nano)}, "to": {from.Add(*window).Format(time.RFC3339Nano)},
			"limit": {fmt.Sprint(*limit)}}.Encode()
		pkts, d, err := get(ctx, u)
		if err != nil {
			return err
		}
		winLat = append(winLat, d)
		winPkts += len(pkts)
		for _, p := range pkts {
			if p.CallID != nil && *p.CallID != "" && rng.IntN(20) == 0 {
				callIDs = append(callIDs, *p.CallID)
				seen = append(seen, p)
			}
		}
	}
	if len(callIDs) == 0 {
		return fmt.Errorf("no Call-IDs in %d windows: is anything stored?", *n)
	}
	for range *n {
		id := callIDs[rng.IntN(len(callIDs))]
		pkts, d, err := get(ctx, *base+"/api/v1/calls/"+url.PathEscape(id))
		if err != nil {
			return err
		}
		callLat = append(callLat, d)
		callPkts += len(pkts)
	}
	report(stdout, fmt.Sprintf("first %d packets of a %s window", *limit, *window), winLat, winPkts)
	report(stdout, "every packet of one Call-ID", callLat, callPkts)

	var users []string
	for _, p := range seen {
		if p.FromUser != nil && *p.FromUser != "" {
			users = append(users, *p.FromUser)
		}
	}
	var inviteLat, userLat []time.Duration
	var inviteCalls, userCalls int
	for range *n {
		from := lo.Add(time.Duration(rng.Int64N(int64(max(hi.Sub(lo)-*callWindow, 1)))))
		u := *base + "/api/v1/calls?" + url.Values{
			"from": {from.Format(time.RFC3339Nano)}, "to": {from.Add(*callWindow).Format(time.RFC3339Nano)},
			"method": {"INVITE"}, "limit": {"100"}}.Encode()
		k, d, err := getCalls(ctx, client, u)
		if err != nil {
			return err
		}
		inviteLat = append(inviteLat, d)
		inviteCalls += k
	}
	for i := range *n {
		if len(users) == 0 {
			break
		}
		u := *base + "/api/v1/calls?" + url.Values{
			"from": {lo.Format(time.RFC3339Nano)}, "to": {hi.Add(time.Second).Format(time.RFC3339Nano)},
			"user": {users[(i*7919)%len(users)]}, "limit": {"100"}}.Encode()
		k, d, err := getCalls(ctx, client, u)
		if err != nil {
			return err
		}
		userLat = append(userLat, d)
		userCalls += k
	}
	reportCalls(stdout, fmt.Sprintf("first 100 INVITE calls of a %s window", *callWindow), inviteLat, inviteCalls)
	if len(userLat) > 0 {
		reportCalls(stdout, "the calls of one number over the span (first 100)", userLat, userCalls)
	}
	if *filters && *direct {
		return fmt.Errorf("-filters goes through the API: leave out -direct")
	}
	if *filters {
		return runFilters(ctx, stdout, get, *base, lo, hi, *n, *limit, rng, seen)
	}
	return nil
}

// runFilters times the first limit matches of each filter anywhere in the
// stored span [lo, hi], n requests each, with values drawn from packets
// seen in the window requests.
func runFilters(ctx context.Context, stdout io.Writer, get func(context.Context, string) ([]packet, time.Duration, error),
	base string, lo, hi time.Time, n, limit int, rng *rand.Rand, seen []packet) error {
	pick := func(field func(packet) *string) func() string {
		var vals []string
		for _, p := range seen {
			if v := field(p); v != nil && *v != "" {
				vals = append(vals, *v)
			}
		}
		return func() string {
			if len(vals) == 0 {
				return "nothing-seen"
			}
			return vals[rng.IntN(len(vals))]
		}
	}
	fixed := func(v string) func() string { return func() string { return v } }
	fromUser := pick(func(p packet) *string { return p.FromUser })
	// A number as a person types it: with separators, without the '+'.
	typed := func() string {
		u := strings.TrimPrefix(fromUser(), "+")
		if len(u) > 6 {
			u = u[:2] + " " + u[2:4] + " " + u[4:]
		}
		return u
	}
	for _, c := range []struct {
		param string
		value func() string
	}{
		{"method", fixed("INVITE")},
		{"method", fixed("BYE")},
		{"method", fixed("INVITE,BYE")},
		{"method", fixed("PRACK")},
		{"status", fixed("486")},
		{"status", fixed("503")},
		{"status", fixed("486,487")},
		{"status", fixed("599")},
		{"status_class", fixed("4xx")},
		{"status_class", fixed("6xx")},
		{"kind", fixed("response")},
		{"kind", fixed("invalid")},
		{"capture_id", fixed("4242")},
		{"capture_id", fixed("7")},
		{"src_ip", pick(func(p packet) *string { return &p.SrcIP })},
		{"ip", pick(func(p packet) *string { return &p.DstIP })},
		{"ip", fixed("203.0.113.77")},
		{"from_user", fromUser},
		{"to_user", pick(func(p packet) *string { return p.ToUser })},
		{"ruri_user", pick(func(p packet) *string { return p.RURIUser })},
		{"user", typed},
		{"user", fixed("nobody-here")},
		{"correlation_id", fixed("no-such-correlation")},
	} {
		var lat []time.Duration
		var pkts int
		example := ""
		for range n {
			v := c.value()
			if example == "" {
				example = v
			}
			u := base + "/api/v1/packets?" + url.Values{
				"from": {lo.Format(time.RFC3339Nano)}, "to": {hi.Add(time.Second).Format(time.RFC3339Nano)},
				"limit": {strconv.Itoa(limit)}, c.param: {v}}.Encode()
			got, d, err := get(ctx, u)
			if err != nil {
				return err
			}
			lat = append(lat, d)
			pkts += len(got)
		}
		report(stdout, fmt.Sprintf("%s=%s (first %d over the span)", c.param, example, limit), lat, pkts)
	}
	return nil
}

type packet struct {
	CallID   *string `json:"call_id"`
	SrcIP    string  `json:"src_ip"`
	DstIP    string  `json:"dst_ip"`
	FromUser *string `json:"from_user"`
	ToUser   *string `json:"to_user"`
	RURIUser *string `json:"ruri_user"`
	Raw      string  `json:"raw"`
}

// get fetches one API answer and decodes it, timing the exchange up to the
// answer's last byte.
func get(ctx context.Context, client *http.Client, u string) ([]packet, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	// The clock stops at the last byte of the answer: decoding it is the
	// client's work, not the server's.
	body, err := io.ReadAll(resp.Body)
	d := time.Since(start)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var ans struct {
		Packets []packet `json:"packets"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	return ans.Packets, d, nil
}

// getDirect asks the store what the API URL u asks, timing only the store.
func getDirect(ctx context.Context, db *store.DB, u string) ([]packet, time.Duration, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, 0, err
	}
	var f hepvault.Filter
	if id, ok := strings.CutPrefix(pu.Path, "/api/v1/calls/"); ok {
		f.CallID, f.Limit = id, store.MaxLimit
	} else {
		q := pu.Query()
		f.From, _ = time.Parse(time.RFC3339Nano, q.Get("from"))
		f.To, _ = time.Parse(time.RFC3339Nano, q.Get("to"))
		f.Limit, _ = strconv.Atoi(q.Get("limit"))
	}
	start := time.Now()
	pkts, _, err := db.Packets(ctx, f)
	d := time.Since(start)
	out := make([]packet, len(pkts))
	for i, p := range pkts {
		str := func(s string) *string { return &s }
		out[i] = packet{CallID: str(p.CallID), SrcIP: p.SrcIP.String(), DstIP: p.DstIP.String(),
			FromUser: str(p.FromUser), ToUser: str(p.ToUser), RURIUser: str(p.RURIUser)}
	}
	return out, d, err
}

// getCalls fetches one calls listing and counts its calls, timing the
// exchange up to the answer's last byte.
func getCalls(ctx context.Context, client *http.Client, u string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	var ans struct {
		Calls []json.RawMessage `json:"calls"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return 0, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	return len(ans.Calls), d, nil
}

// getCallsDirect asks the store what the calls listing URL u asks.
func getCallsDirect(ctx context.Context, db *store.DB, u string) (int, time.Duration, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return 0, 0, err
	}
	q := pu.Query()
	var f store.CallFilter
	f.From, _ = time.Parse(time.RFC3339Nano, q.Get("from"))
	f.To, _ = time.Parse(time.RFC3339Nano, q.Get("to"))
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	f.User = q.Get("user")
	if m := q.Get("method"); m != "" {
		f.Methods = strings.Split(m, ",")
	}
	start := time.Now()
	page, err := db.Calls(ctx, f)
	return len(page.Calls), time.Since(start), err
}

func reportCalls(w io.Writer, what string, lat []time.Duration, calls int) {
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(w, "%s: %d requests, %.1f calls each; p50 %s p90 %s p99 %s max %s\n", what, len(lat),
		float64(calls)/float64(len(lat)), q(0.50).Round(10*time.Microsecond), q(0.90).Round(10*time.Microsecond),
		q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

func report(w io.Writer, what string, lat []time.Duration, pkts int) {
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(w, "%s: %d requests, %.1f packets each; p50 %s p90 %s p99 %s max %s\n", what, len(lat),
		float64(pkts)/float64(len(lat)), q(0.50).Round(10*time.Microsecond), q(0.90).Round(10*time.Microsecond),
		q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}
