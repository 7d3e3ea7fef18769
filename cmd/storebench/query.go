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

// runQuery times the two questions through the HTTP API, one request at a
// time: the first 100 packets of a random 1-minute window of the stored
// span, then every packet of a random Call-ID seen in those windows.
func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("query", stderr)
	dsn := fs.String("db", "", "PostgreSQL DSN, to find the stored time span")
	base := fs.String("url", "http://127.0.0.1:9080", "hepvault's HTTP API")
	n := fs.Int("n", 1000, "requests of each kind")
	window := fs.Duration("window", time.Minute, "window length")
	limit := fs.Int("limit", 100, "packets per window request")
	seedN := fs.Uint64("seed", 7, "random seed")
	direct := fs.Bool("direct", false, "call the store directly instead of the HTTP API, to see what the API adds")
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
	}
	rng := rand.New(rand.NewPCG(*seedN, 1))
	var callIDs []string
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
			if p.CallID != "" && rng.IntN(20) == 0 {
				callIDs = append(callIDs, p.CallID)
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
	return nil
}

type packet struct {
	CallID string `json:"call_id"`
	Raw    string `json:"raw"`
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
		out[i].CallID = p.CallID
	}
	return out, d, err
}

func report(w io.Writer, what string, lat []time.Duration, pkts int) {
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(w, "%s: %d requests, %.1f packets each; p50 %s p90 %s p99 %s max %s\n", what, len(lat),
		float64(pkts)/float64(len(lat)), q(0.50).Round(10*time.Microsecond), q(0.90).Round(10*time.Microsecond),
		q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}
