package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main() // hepvault itself, for tests that signal it (outage_helpers_test.go)
		os.Exit(0)
	}
	storetest.Main(m)
}

// startTestServer runs hepvault on a fresh database with every listener on
// a free loopback port.
func startTestServer(t *testing.T) *server {
	t.Helper()
	return startTestServerWith(t, nil)
}

// startTestServerWith is startTestServer with settings changed by edit.
func startTestServerWith(t *testing.T, edit func(*serveConfig)) *server {
	t.Helper()
	cfg := serveConfig{
		DB: storetest.NewDatabase(t), HEPUDP: "127.0.0.1:0", HEPTCP: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		ShutdownTimeout: 20 * time.Second, SpoolDir: t.TempDir(), SpoolMaxBytes: 1 << 30,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func (s *server) url(path string) string { return "http://" + s.httpLn.Addr().String() + path }

type apiPacket struct {
	ID         int64   `json:"id"`
	CapturedAt string  `json:"captured_at"`
	SrcIP      string  `json:"src_ip"`
	SrcPort    uint16  `json:"src_port"`
	DstIP      string  `json:"dst_ip"`
	DstPort    uint16  `json:"dst_port"`
	Transport  string  `json:"transport"`
	CaptureID  uint32  `json:"capture_id"`
	HEPVersion int     `json:"hep_version"`
	Kind       string  `json:"kind"`
	Method     *string `json:"method"`
	StatusCode *int    `json:"status_code"`
	CallID     string  `json:"call_id"`
	CSeq       uint32  `json:"cseq"`
	CSeqMethod string  `json:"cseq_method"`
	Raw        string  `json:"raw"`
}

func getPackets(t *testing.T, s *server, query string) ([]apiPacket, string) {
	t.Helper()
	resp, err := http.Get(s.url("/api/v1/packets?" + query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET packets?%s: %s: %s", query, resp.Status, b)
	}
	var out struct {
		Packets []apiPacket `json:"packets"`
		Next    string      `json:"next"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Packets, out.Next
}

// waitStored polls the API until n packets are stored.
func waitStored(t *testing.T, s *server, n int) []apiPacket {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := getPackets(t, s, "limit=10000")
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("unexpected stored count; got %d; want %d (dropped %d)", len(got), n, s.col.Metrics().DroppedTotal())
			}
			if inDB := storedInDB(t, s.cfg.DB); inDB != n {
				t.Fatalf("unexpected count in the database; got %d; want %d", inDB, n)
			}
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inCaptureOrder sorts the fixture as hepvault must answer: by HEP time,
// then arrival (frame) order.
func inCaptureOrder(recs []fixture.Record) []fixture.Record {
	out := append([]fixture.Record(nil), recs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Truth, out[j].Truth
		return a.TsSec < b.TsSec || (a.TsSec == b.TsSec && a.TsUsec < b.TsUsec)
	})
	return out
}

func checkAgainstTruth(t *testing.T, got []apiPacket, recs []fixture.Record) {
	t.Helper()
	want := inCaptureOrder(recs)
	for i := range want {
		g, tr := got[i], want[i].Truth
		wantTime := time.Unix(int64(tr.TsSec), int64(tr.TsUsec)*1000).UTC().Format("2006-01-02T15:04:05.000000Z")
		method, status := "", 0
		if g.Method != nil {
			method = *g.Method
		}
		if g.StatusCode != nil {
			status = *g.StatusCode
		}
		if g.CapturedAt != wantTime || g.Kind != tr.SIPType || method != tr.Method || status != tr.StatusCode ||
			g.CSeq != tr.CSeqNum || g.CSeqMethod != tr.CSeqMethod || g.CallID != tr.CallID {
			t.Fatalf("packet %d: got %s %s %s %d cseq %d %s call-id %s; want frame %d: %s %s %s %d cseq %d %s call-id %s",
				i, g.CapturedAt, g.Kind, method, status, g.CSeq, g.CSeqMethod, g.CallID,
				tr.Frame, wantTime, tr.SIPType, tr.Method, tr.StatusCode, tr.CSeqNum, tr.CSeqMethod, tr.CallID)
		}
		if g.Raw != string(want[i].SIP()) || g.SrcIP != tr.SrcIP || g.SrcPort != tr.SrcPort || g.DstIP != tr.DstIP ||
			g.DstPort != tr.DstPort || g.CaptureID != tr.CaptureID || g.HEPVersion != tr.HEPVersion {
			t.Fatalf("packet %d (frame %d): envelope or raw payload differs", i, tr.Frame)
		}
	}
}

func sendUDP(t *testing.T, addr net.Addr, recs []fixture.Record) {
	t.Helper()
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, r := range recs {
		if _, err := conn.Write(r.Datagram); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// sendUDPInStep sends recs keeping at most 32 datagrams ahead of what the
// server has read: on a loaded machine a burst would overrun the kernel's
// socket buffer, a loss the test is not about.
func sendUDPInStep(t *testing.T, s *server, recs []fixture.Record) {
	t.Helper()
	conn, err := net.Dial("udp", s.col.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	for i, r := range recs {
		if _, err := conn.Write(r.Datagram); err != nil {
			t.Fatal(err)
		}
		for int(s.col.Metrics().UDPDatagrams.Load()) < i+1-32 {
			if time.Now().After(deadline) {
				t.Fatalf("server read %d of %d datagrams in 30 s", s.col.Metrics().UDPDatagrams.Load(), i+1)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

func sendTCP(t *testing.T, addr net.Addr, recs []fixture.Record) {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stream []byte
	for _, r := range recs {
		stream = append(stream, r.Datagram...)
	}
	// Segments that cut packets anywhere, as a coalescing agent sends them.
	for off := 0; off < len(stream); off += 1361 {
		if _, err := conn.Write(stream[off:min(off+1361, len(stream))]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServe_ReplayFixtures(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		send          func(*testing.T, *server, []fixture.Record)
	}{
		{"hep3-udp", fixture.HEP3, sendUDPInStep},
		{"hep2-udp", fixture.HEP2, sendUDPInStep},
		{"hep3-tcp", fixture.HEP3, func(t *testing.T, s *server, r []fixture.Record) { sendTCP(t, s.col.TCPAddr(), r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTestServer(t)
			recs := fixture.Load(t, tc.fixture)
			tc.send(t, s, recs)
			got := waitStored(t, s, len(recs))
			checkAgainstTruth(t, got, recs)

			// Pages with the cursor give the same packets, each once.
			var paged []apiPacket
			next := ""
			for {
				q := "limit=50"
				if next != "" {
					q += "&cursor=" + next
				}
				page, n := getPackets(t, s, q)
				paged = append(paged, page...)
				if n == "" {
					break
				}
				next = n
			}
			if len(paged) != len(got) {
				t.Fatalf("unexpected paged count; got %d; want %d", len(paged), len(got))
			}
			for i := range got {
				if paged[i].ID != got[i].ID {
					t.Fatalf("page order differs at %d", i)
				}
			}
		})
	}
}

// TestQuery_TraineeCheck is the instructor's one command: the first 5
// packets after a timestamp written the way `date` prints it.
func TestQuery_TraineeCheck(t *testing.T) {
	s := startTestServer(t)
	recs := fixture.Load(t, fixture.HEP3)
	sendUDP(t, s.col.UDPAddr(), recs)
	waitStored(t, s, len(recs))

	ordered := inCaptureOrder(recs)
	// The trainee wrote down a time a little after packet 40, to the second.
	first := ordered[40].Truth
	at := time.Unix(int64(first.TsSec), 0).UTC()
	written := at.Format("Mon Jan _2 15:04:05 MST 2006")
	var want []fixture.Truth
	for _, r := range ordered {
		if !time.Unix(int64(r.Truth.TsSec), int64(r.Truth.TsUsec)*1000).Before(at) && len(want) < 5 {
			want = append(want, r.Truth)
		}
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"query", "--server", s.url(""), "--from", written, "--limit", "5"}, func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("query: %v: %s", err, errOut.String())
	}
	var heads []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "#") {
			heads = append(heads, line)
		}
	}
	if len(heads) != 5 {
		t.Fatalf("unexpected number of packets; got %d; want 5:\n%s", len(heads), out.String())
	}
	for i, tr := range want {
		var summary string
		if tr.SIPType == "request" {
			summary = "request " + tr.Method
		} else {
			summary = fmt.Sprintf("response %d %s (%dxx ", tr.StatusCode, tr.Reason, tr.StatusCode/100)
		}
		if !strings.Contains(heads[i], summary) {
			t.Fatalf("packet %d: header %q lacks %q", i+1, heads[i], summary)
		}
	}
	if !strings.Contains(out.String(), "(more packets follow") {
		t.Fatalf("text answer does not say more packets follow:\n%s", out.String())
	}
}

func TestServe_MalformedInputDoesNotStopIt(t *testing.T) {
	s := startTestServer(t)
	recs := fixture.Load(t, fixture.HEP3)
	conn, err := net.Dial("udp", s.col.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte{})               // short_packet
	conn.Write([]byte("HEP3\x00\x03")) // bad_length: total length 3
	conn.Write(bytes.Repeat([]byte{0xff}, 3000))
	notSIP := append([]byte(nil), recs[0].Datagram[:len(recs[0].Datagram)-recs[0].Truth.PayloadLen]...)
	notSIP = append(notSIP, []byte(strings.Repeat("\x00garbage\xff", recs[0].Truth.PayloadLen/9))...)
	notSIP = append(notSIP, make([]byte, len(recs[0].Datagram)-len(notSIP))...)
	conn.Write(notSIP)
	conn.Write(recs[1].Datagram)
	got := waitStored(t, s, 2)
	if got[0].Kind != "invalid" && got[1].Kind != "invalid" {
		t.Fatalf("the garbage payload was not stored as invalid: %s, %s", got[0].Kind, got[1].Kind)
	}
	resp, err := http.Get(s.url("/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unexpected health status %d", resp.StatusCode)
	}
	resp, err = http.Get(s.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hepvault_dropped_total{reason="short_packet"} 1`, `hepvault_dropped_total{reason="bad_length"} 1`, `hepvault_dropped_total{reason="not_hep"} 1`, "hepvault_invalid_sip_total 1", "hepvault_stored_total 2",
		"hepvault_spooled_total 0", "hepvault_spool_bytes 0", `hepvault_spool_dropped_total{reason="spool_full"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Fatalf("metrics lack %q:\n%s", want, metrics)
		}
	}
}
