package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Counter counts the packets of one run that the collector stored.
type Counter interface {
	Count(ctx context.Context) (uint64, error)
}

// Schemas DBCounter knows.
const (
	SchemaHepvault = "hepvault" // hepvault's packet_blocks table
	SchemaHomer7   = "homer7"   // heplify-server's hep_proto_1_* tables
)

// DBCounter counts a run's packets in the database: in hepvault's blocks,
// every packet captured since the run started (a block's count, read without
// decoding the block, so counting costs the collector under test next to
// nothing; hence one run at a time per database, as hepbench runs them); in
// HOMER 7's tables, by Call-ID prefix (heplify-server's sid).
type DBCounter struct {
	DSN    string
	Schema string
	Since  time.Time // the run's start: only newer rows are read
	RunID  string
}

// Count runs one count query.
func (c DBCounter) Count(ctx context.Context) (uint64, error) {
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		return 0, fmt.Errorf("loadgen: connect to count stored packets: %w", err)
	}
	defer conn.Close(ctx)
	var n int64
	switch c.Schema {
	case SchemaHepvault, "":
		// The generator stamps packets with its clock, the one Since was
		// read from, so no earlier run's packet starts a block after Since.
		err = conn.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM packet_blocks WHERE first_at >= $1`,
			c.Since.Truncate(time.Microsecond)).Scan(&n)
	case SchemaHomer7:
		since := c.Since.Add(-time.Minute) // clocks of one machine; a margin all the same
		err = conn.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM hep_proto_1_call WHERE create_date >= $1 AND sid LIKE $2) +
			(SELECT count(*) FROM hep_proto_1_registration WHERE create_date >= $1 AND sid LIKE $2) +
			(SELECT count(*) FROM hep_proto_1_default WHERE create_date >= $1 AND sid LIKE $2)`,
			since, c.RunID+"-%").Scan(&n)
	default:
		return 0, fmt.Errorf("loadgen: unknown schema %q (want %s or %s)", c.Schema, SchemaHepvault, SchemaHomer7)
	}
	if err != nil {
		return 0, fmt.Errorf("loadgen: count stored packets: %w", err)
	}
	return uint64(n), nil
}

// APICounter counts a run's packets through hepvault's API, page by page,
// filtered by capture id: slower than DBCounter, but needs no database access.
type APICounter struct {
	BaseURL   string // http://127.0.0.1:9080
	Since     time.Time
	CaptureID uint32
}

// Count pages through /api/v1/packets.
func (c APICounter) Count(ctx context.Context) (uint64, error) {
	var n uint64
	cursor := ""
	for {
		q := url.Values{}
		q.Set("from", strconv.FormatInt(c.Since.Add(-time.Minute).Unix(), 10))
		q.Set("capture_id", strconv.FormatUint(uint64(c.CaptureID), 10))
		q.Set("limit", "10000")
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/api/v1/packets?"+q.Encode(), nil)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, fmt.Errorf("loadgen: count stored packets through the API: %w", err)
		}
		var page struct {
			Packets []struct {
				ID json.Number `json:"id"`
			} `json:"packets"`
			Next  string `json:"next"`
			Error string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("loadgen: read the API's answer: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("loadgen: the API answered %s: %s", resp.Status, page.Error)
		}
		n += uint64(len(page.Packets))
		if page.Next == "" {
			return n, nil
		}
		cursor = page.Next
	}
}

// WaitStored polls c until it reaches want, or until the count has not
// moved for quiet (the collector has written all it will), or ctx ends.
func WaitStored(ctx context.Context, c Counter, want uint64, quiet time.Duration) (uint64, error) {
	var last uint64
	lastChange := time.Now()
	for {
		n, err := c.Count(ctx)
		if err != nil {
			return last, err
		}
		if n >= want {
			return n, nil
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
