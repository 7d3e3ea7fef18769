package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/pgembed"
	"github.com/jackc/pgx/v5"
)

// readyz returns /readyz's status and body.
func readyz(t *testing.T, url string) (int, health) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

type health struct {
	Database    string   `json:"database"`
	Replica     string   `json:"replica"`
	ReplicaLagS *float64 `json:"replica_lag_s"`
}

func getBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return b
}

// TestReplica_QueriesReadFromIt: with --db-read, hepvault writes to the
// primary and answers from a streaming replica made by pg_basebackup: the
// capture reads back from it as stored; while its replay is paused the
// API answers what it had and /readyz says it is behind (503); once it
// replays, the answers are the primary's.
func TestReplica_QueriesReadFromIt(t *testing.T) {
	primary, err := launchPostgres(postgresDir(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rcfg := pgembed.DefaultConfig()
	rcfg.DataDir, rcfg.Ephemeral = postgresDir(t), true
	replica, err := pgembed.StartReplica(ctx, primary, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replica.Stop(context.Background()) })

	s := startTestServerWith(t, func(c *serveConfig) {
		c.DB = primary.DSN()
		c.Cluster.DBRead, c.Cluster.MaxReplicaLag = replica.DSN(), time.Second
	})
	waitUntil(t, 20*time.Second, "ready with the replica", func() bool {
		code, h := readyz(t, s.url(""))
		return code == http.StatusOK && h.Replica == "up" && h.ReplicaLagS != nil
	})

	hep3 := fixture.Load(t, fixture.HEP3)
	sendUDPInStep(t, s, hep3)
	waitUntil(t, 20*time.Second, "the capture stored", func() bool { return storedInDB(t, primary.DSN()) == len(hep3) })
	waitUntil(t, 20*time.Second, "the capture on the replica", func() bool {
		got, _ := getPackets(t, s, "limit=10000")
		return len(got) == len(hep3)
	})
	got, _ := getPackets(t, s, "limit=10000")
	checkAgainstTruth(t, got, hep3)

	// Replay paused: the primary takes more, the replica answers what it had.
	conn, err := pgx.Connect(ctx, replica.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	hep2 := fixture.Load(t, fixture.HEP2)
	sendUDPInStep(t, s, hep2)
	waitUntil(t, 20*time.Second, "the second capture stored", func() bool { return storedInDB(t, primary.DSN()) == len(hep3)+len(hep2) })
	if got, _ := getPackets(t, s, "limit=10000"); len(got) != len(hep3) {
		t.Fatalf("unexpected packets read while the replica's replay is paused; got %d; want %d (not read from the replica?)", len(got), len(hep3))
	}
	waitUntil(t, 20*time.Second, "/readyz to say the replica is behind", func() bool {
		code, h := readyz(t, s.url(""))
		return code == http.StatusServiceUnavailable && h.Replica == "behind" && h.ReplicaLagS != nil && *h.ReplicaLagS > 1 && h.Database == "up"
	})
	if _, err := conn.Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "ready again", func() bool {
		code, h := readyz(t, s.url(""))
		return code == http.StatusOK && h.Replica == "up" && *h.ReplicaLagS <= 1
	})

	if m := getBody(t, s.url("/metrics")); !bytes.Contains(m, []byte("\nhepvault_replica_lag_seconds ")) {
		t.Fatal("/metrics lacks hepvault_replica_lag_seconds")
	}

	// Caught up, it answers as the primary does: packets, a call, calls, statistics, pcap.
	pcfg := store.DefaultConfig()
	pcfg.DSN = primary.DSN()
	pdb, err := store.Open(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	onPrimary := httptest.NewServer(api.New(pdb, nil, nil))
	defer onPrimary.Close()
	for _, q := range []string{
		"/api/v1/packets?limit=10000",
		"/api/v1/packets?status_class=4xx,5xx,6xx&limit=100&format=text",
		"/api/v1/calls/" + hep3[0].Truth.CallID + "?format=pcap",
		"/api/v1/calls?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&limit=1000",
		"/api/v1/stats?from=2026-11-01T00:00:00Z&to=2026-12-31T00:00:00Z&step=1d&by=status_class",
	} {
		a, b := getBody(t, s.url(q)), getBody(t, onPrimary.URL+q)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: the replica answers differently from the primary:\n%.300s\n%.300s", q, a, b)
		}
	}
}
