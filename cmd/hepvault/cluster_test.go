package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
)

// asAgent returns the capture's HEP packets as agent id sent them: the same
// real messages, told apart by capture agent.
func asAgent(t *testing.T, recs []fixture.Record, id uint32) [][]byte {
	t.Helper()
	var d hep.Decoder
	out := make([][]byte, len(recs))
	for i, r := range recs {
		var p hep.Packet
		if err := d.Decode(r.Datagram, &p); err != nil {
			t.Fatalf("fixture frame %d: %v", r.Truth.Frame, err)
		}
		p.CaptureID = id
		out[i] = hep.AppendV3(nil, &p)
	}
	return out
}

// apiBody returns the body of GET path from the process's API.
func (p *hepvaultProc) apiBody(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + p.http + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b
}

// TestCluster_LeaderKilledMidStream runs three collectors on one database,
// each receiving the Kamailio capture over HEP/TCP as an agent of its own,
// and SIGKILLs the leader mid-stream: another takes over within seconds
// and runs the store-wide jobs (the partition ahead reappears, the
// statistics fold runs), every packet a survivor received is stored once,
// in capture order, and the survivors answer the same.
func TestCluster_LeaderKilledMidStream(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	recs := fixture.Load(t, fixture.HEP3)
	nodes := make([]*hepvaultProc, 3)
	for i := range nodes {
		nodes[i] = startHepvault(t, "--db", dsn, "--hep-udp", "", "--hep-tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
			"--spool-dir", t.TempDir(), "--min-free-disk", "0")
	}
	leaders := func(among []int) (lead []int) {
		for _, i := range among {
			if nodes[i].metric(t, "hepvault_leader") == 1 {
				lead = append(lead, i)
			}
		}
		return lead
	}
	all := []int{0, 1, 2}
	waitUntil(t, 10*time.Second, "one leader", func() bool { return len(leaders(all)) == 1 })
	old := leaders(all)[0]
	var survivors []int
	for _, i := range all {
		if i != old {
			survivors = append(survivors, i)
		}
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The partition furthest ahead goes; only a leader's job makes it, at
	// its election and then hourly: the old leader's first run is over a
	// moment after it leads, and its next is an hour away.
	time.Sleep(500 * time.Millisecond)
	ahead := "packet_blocks_p" + time.Now().UTC().Add(3*24*time.Hour).Format("20060102")
	if _, err := conn.Exec(ctx, `DROP TABLE `+ahead); err != nil {
		t.Fatal(err)
	}

	// Each node gets the capture as its own agent, paced over ~2 s.
	streams := make([][][]byte, len(nodes))
	var wg sync.WaitGroup
	sent := make([]int, len(nodes))
	for i, n := range nodes {
		streams[i] = asAgent(t, recs, uint32(7000+i))
		c, err := net.Dial("tcp", n.hepTCP)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i], _ = pacedSend(c, streams[i], 150)
		}()
	}
	sumKind := func(table string) int {
		return sqlCount(t, dsn, `SELECT coalesce(sum(c), 0)::int FROM `+table+`, unnest(counts) c WHERE dim = 'kind'`)
	}
	waitUntil(t, 10*time.Second, "statistics of the first packets", func() bool { return sumKind("stats_delta") > 0 })
	waitUntil(t, 10*time.Second, "the stream's middle", func() bool { return nodes[old].metric(t, "hepvault_stored_total") > 0 })

	killed := time.Now()
	if err := nodes[old].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-nodes[old].exited
	// Only a leader folds: what stats_delta holds now is folded by the next.
	deltaAtKill, minutesAtKill := sumKind("stats_delta"), sumKind("stats_minute")
	waitUntil(t, 15*time.Second, "a survivor to lead", func() bool { return len(leaders(survivors)) == 1 })
	takeover := time.Since(killed)
	t.Logf("a survivor led %.2f s after the leader was SIGKILLed", takeover.Seconds())
	waitUntil(t, 10*time.Second, "the partition ahead made again", func() bool {
		return sqlCount(t, dsn, `SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass($1)`, ahead) == 1
	})
	waitUntil(t, 10*time.Second, "the statistics fold under the new leader", func() bool {
		return sumKind("stats_minute") >= minutesAtKill+deltaAtKill
	})

	wg.Wait()
	for _, i := range survivors {
		if sent[i] != len(recs) {
			t.Fatalf("node %d: sent %d of %d packets", i, sent[i], len(recs))
		}
	}
	want := inCaptureOrder(recs)
	for _, i := range survivors {
		agent := strconv.Itoa(7000 + i)
		waitUntil(t, 20*time.Second, "node "+strconv.Itoa(i)+"'s packets stored", func() bool {
			return sqlCount(t, dsn, `SELECT count(*) FROM packets WHERE capture_id = $1`, 7000+i) >= len(recs)
		})
		if n := sqlCount(t, dsn, `SELECT count(*) FROM packets WHERE capture_id = $1`, 7000+i); n != len(recs) {
			t.Fatalf("node %d: unexpected rows stored; got %d; want %d, each once", i, n, len(recs))
		}
		// Read back through the other survivor's API, in capture order.
		reader := nodes[survivors[0]]
		if reader == nodes[i] {
			reader = nodes[survivors[1]]
		}
		var got struct {
			Packets []apiPacket `json:"packets"`
		}
		if err := json.Unmarshal(reader.apiBody(t, "/api/v1/packets?limit=10000&capture_id="+agent), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Packets) != len(want) {
			t.Fatalf("node %d: unexpected packets read back; got %d; want %d", i, len(got.Packets), len(want))
		}
		for k, p := range got.Packets {
			tr := want[k].Truth
			at := time.Unix(int64(tr.TsSec), int64(tr.TsUsec)*1000).UTC().Format("2006-01-02T15:04:05.000000Z")
			if p.Raw != string(want[k].SIP()) || p.CapturedAt != at || p.CallID != tr.CallID {
				t.Fatalf("node %d: packet %d differs from frame %d of the capture in order: got %s %s", i, k, tr.Frame, p.CapturedAt, p.CallID)
			}
			if k > 0 && p.CapturedAt == got.Packets[k-1].CapturedAt && p.ID <= got.Packets[k-1].ID {
				t.Fatalf("node %d: packets %d and %d of one capture time out of arrival order", i, k-1, k)
			}
		}
	}
	// What the killed leader stored before it died, it stored once.
	lost := sqlCount(t, dsn, `SELECT count(*) FROM packets WHERE capture_id = $1`, 7000+old)
	if d := sqlCount(t, dsn, `SELECT count(DISTINCT (captured_at, raw)) FROM packets WHERE capture_id = $1`, 7000+old); d != lost || lost > len(recs) {
		t.Fatalf("killed node: unexpected rows; got %d, %d distinct; want each once, at most %d", lost, d, len(recs))
	}
	t.Logf("the killed leader had stored %d of its %d packets", lost, len(recs))

	// Any survivor answers the same.
	for _, q := range []string{
		"/api/v1/packets?limit=10000",
		"/api/v1/packets?method=INVITE&limit=200",
		"/api/v1/calls?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&limit=1000",
		"/api/v1/stats?from=2026-11-01T00:00:00Z&to=2026-12-31T00:00:00Z&step=1d&by=method",
	} {
		a, b := nodes[survivors[0]].apiBody(t, q), nodes[survivors[1]].apiBody(t, q)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: the survivors answer differently:\n%.300s\n%.300s", q, a, b)
		}
	}
}
