package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/spool"
	"github.com/hepvault/hepvault/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var base = time.Date(2026, 11, 25, 12, 20, 33, 0, time.UTC)

// newServer serves the API over a real, migrated database holding a short
// call: INVITE, 100, 180, 200, ACK, then a REGISTER on another call.
func newServer(t *testing.T) (*httptest.Server, *store.DB) {
	t.Helper()
	srv, db, _ := newServerDSN(t)
	return srv, db
}

// migratedDB opens a database of its own with the schema applied, closed
// when tb ends, and returns it with its DSN.
func migratedDB(tb testing.TB) (*store.DB, string) {
	tb.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = storetest.NewDatabase(tb)
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db, cfg.DSN
}

// newServerDSN is newServer that also gives its database's DSN.
func newServerDSN(t *testing.T) (*httptest.Server, *store.DB, string) {
	t.Helper()
	db, dsn := migratedDB(t)
	ctx := context.Background()
	var pkts []hepvault.Packet
	add := func(ms int, kind hepvault.Kind, method string, code int, reason, callID string) {
		p := hepvault.Packet{
			ID: int64(len(pkts) + 1), CapturedAt: base.Add(time.Duration(ms) * time.Millisecond), ReceivedAt: base,
			SrcIP: netip.MustParseAddr("127.0.0.1"), SrcPort: 5090, DstIP: netip.MustParseAddr("127.0.0.1"), DstPort: 5060,
			Transport: hepvault.TransportUDP, CaptureID: 4242, HEPVersion: 3, ProtoType: 1, Kind: kind,
			Method: method, StatusCode: code, Reason: reason, CallID: callID, CSeq: 1, CSeqMethod: "INVITE",
		}
		if callID == "call-1@x" {
			p.FromUser, p.ToUser = "alice", "bob"
		}
		if kind == hepvault.KindRequest {
			p.RequestURI, p.RURIUser = "sip:bob@127.0.0.1", "bob"
			p.Raw = []byte(method + " sip:bob@127.0.0.1 SIP/2.0\r\nCall-ID: " + callID + "\r\n\r\n")
		} else {
			p.Raw = []byte("SIP/2.0 " + reason + "\r\nCall-ID: " + callID + "\r\n\r\n")
		}
		pkts = append(pkts, p)
	}
	add(0, hepvault.KindRequest, "INVITE", 0, "", "call-1@x")
	add(1, hepvault.KindResponse, "", 100, "Trying", "call-1@x")
	add(2, hepvault.KindResponse, "", 180, "Ringing", "call-1@x")
	add(3, hepvault.KindResponse, "", 200, "OK", "call-1@x")
	add(4, hepvault.KindRequest, "ACK", 0, "", "call-1@x")
	add(5000, hepvault.KindRequest, "REGISTER", 0, "", "reg/1 x")
	pkts[0].PAIUser = "+1 555 0100"
	pkts[5].FromUser, pkts[5].ToUser, pkts[5].CorrelationID = "+49 30 7741528", "+49 30 7741528", "corr-reg"
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(db, nil, nil))
	t.Cleanup(srv.Close)
	return srv, db, dsn
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type answer struct {
	Packets []map[string]any `json:"packets"`
	Next    string           `json:"next"`
	Error   string           `json:"error"`
}

func getJSON(t *testing.T, srv *httptest.Server, path string) (int, answer) {
	t.Helper()
	code, body := get(t, srv, path)
	var a answer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET %s: not JSON: %v: %s", path, err, body)
	}
	return code, a
}

func TestPackets_Success(t *testing.T) {
	srv, _ := newServer(t)
	f := func(query string, wantSummaries ...string) {
		t.Helper()
		code, a := getJSON(t, srv, "/api/v1/packets?"+query)
		if code != http.StatusOK {
			t.Fatalf("%s: unexpected status %d: %s", query, code, a.Error)
		}
		var got []string
		for _, p := range a.Packets {
			got = append(got, p["summary"].(string))
		}
		if strings.Join(got, "|") != strings.Join(wantSummaries, "|") {
			t.Fatalf("%s: unexpected packets;\ngot  %q\nwant %q", query, got, wantSummaries)
		}
	}
	all := []string{"request INVITE", "response 100 Trying (1xx Informational)", "response 180 Ringing (1xx Informational)",
		"response 200 OK (2xx Success)", "request ACK", "request REGISTER"}
	f("", all...)
	f("from=2026-11-25T12:20:33.002Z", all[2:]...)
	f("to=2026-11-25T12:20:33.002Z", all[:2]...)
	f("from="+url.QueryEscape("Wed Nov 25 13:20:33 CET 2026")+"&limit=2", all[:2]...)
	f("from=1795609233.001&to=1795609233.004", all[1:4]...)
	f("kind=response", all[1:4]...)
	f("method=invite", all[0])
	f("status=180", all[2])
	f("call_id="+url.QueryEscape("reg/1 x"), all[5])
	f("src_ip=127.0.0.1&dst_ip=127.0.0.1&capture_id=4242&limit=1", all[0])
	f("src_ip=10.0.0.1")
	f("call_id=" + url.QueryEscape("' OR 1=1 --"))

	// Lists: any of the values.
	f("kind=request,invalid", all[0], all[4], all[5])
	f("method=invite,ack", all[0], all[4])
	f("method=REGISTER,BYE", all[5])
	f("status=180,200", all[2], all[3])
	f("status_class=1xx", all[1], all[2])
	f("status_class=2XX,6xx", all[3])
	f("src_ip=10.0.0.1,127.0.0.1&limit=1", all[0])
	f("ip=127.0.0.1&limit=2", all[:2]...)
	f("ip=10.0.0.1,127.0.0.1&limit=1", all[0])
	f("ip=10.0.0.1")
	f("capture_id=1,4242&limit=1", all[0])
	f("correlation_id=corr-reg", all[5])
	f("correlation_id=corr")

	// Users, a number with or without its '+' and separators.
	f("from_user=alice", all[:5]...)
	f("to_user=bob&kind=response", all[1:4]...)
	f("ruri_user=bob", all[0], all[4], all[5])
	f("from_user="+url.QueryEscape("+49-30-7741528"), all[5])
	f("user=49307741528", all[5])
	f("user="+url.QueryEscape("+1 555 0100"), all[0]) // P-Asserted-Identity
	f("user=bob&kind=response", all[1:4]...)
	f("user=carol")

	// Text: a substring of the raw message, within a window.
	window := "&from=2026-11-25T12:20:33Z&to=2026-11-25T12:21:00Z"
	f("text=REGISTER"+window, all[5])
	f("text="+url.QueryEscape("Call-ID: call-1@x")+"&kind=response"+window, all[1:4]...)
	f("text=" + url.QueryEscape("no such text") + window)
}

func TestPackets_FieldsAndCursor(t *testing.T) {
	srv, _ := newServer(t)
	code, a := getJSON(t, srv, "/api/v1/packets?limit=2")
	if code != 200 || len(a.Packets) != 2 || a.Next == "" {
		t.Fatalf("unexpected first page: %d, %d packets, next %q", code, len(a.Packets), a.Next)
	}
	p := a.Packets[1]
	for key, want := range map[string]any{
		"captured_at": "2026-11-25T12:20:33.001000Z", "kind": "response", "status_code": 100.0, "status_class": "1xx",
		"reason": "Trying", "method": nil, "call_id": "call-1@x", "cseq": 1.0, "cseq_method": "INVITE",
		"src_ip": "127.0.0.1", "src_port": 5090.0, "transport": "udp", "capture_id": 4242.0, "hep_version": 3.0,
		"from_user": "alice", "to_user": "bob", "ruri_user": nil, "pai_user": nil,
		"raw": "SIP/2.0 Trying\r\nCall-ID: call-1@x\r\n\r\n",
	} {
		if p[key] != want {
			t.Fatalf("unexpected %s; got %#v; want %#v", key, p[key], want)
		}
	}
	var ids []float64
	next := a.Next
	for _, q := range a.Packets {
		ids = append(ids, q["id"].(float64))
	}
	for next != "" {
		_, page := getJSON(t, srv, "/api/v1/packets?limit=2&cursor="+next)
		for _, q := range page.Packets {
			ids = append(ids, q["id"].(float64))
		}
		next = page.Next
	}
	if len(ids) != 6 {
		t.Fatalf("unexpected ids over pages: %v", ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("pages skip or repeat: %v", ids)
		}
	}
}

func TestPackets_Failure(t *testing.T) {
	srv, _ := newServer(t)
	f := func(query, wantInError string) {
		t.Helper()
		code, a := getJSON(t, srv, "/api/v1/packets?"+query)
		if code != http.StatusBadRequest || !strings.Contains(a.Error, wantInError) {
			t.Fatalf("%s: unexpected answer; got %d %q; want 400 with %q", query, code, a.Error, wantInError)
		}
	}
	f("from=yesterday", "from")
	f("from=2026-11-25T12:20:33", "no zone")
	f("to=Wed+Nov+25+12:20:33+XYZ+2026", "XYZ")
	f("from=2026-11-25T12:00:00Z&to=2026-11-25T11:00:00Z", "must be after")
	f("limit=0", "limit")
	f("limit=10001", "limit")
	f("limit=ten", "limit")
	f("kind=reply", "kind")
	f("status=99", "status")
	f("status=abc", "status")
	f("src_ip=300.1.1.1", "src_ip")
	f("dst_ip=host", "dst_ip")
	f("capture_id=-1", "capture_id")
	f("cursor=xyz", "cursor")
	f("format=xml", "format")
	f("limt=5", "unknown parameter")
	f("method=INVITE,,BYE", "empty value")
	f("method=INVITE&method=BYE", "given 2 times")
	f("status=180,1x0", `"1x0"`)
	f("status_class=7xx", "status_class")
	f("ip=host", "ip")
	f("capture_id=1,-1", `"-1"`)
	f("text=INVITE", "needs from and to")
	f("text=INVITE&from=2026-11-25T12:00:00Z&to=2026-11-27T12:00:00Z", "at most 24h apart")
}

func TestPackets_Text(t *testing.T) {
	srv, _ := newServer(t)
	code, body := get(t, srv, "/api/v1/packets?format=text&limit=3")
	if code != 200 {
		t.Fatalf("unexpected status %d: %s", code, body)
	}
	for _, want := range []string{
		"#1 2026-11-25T12:20:33.000000Z UDP 127.0.0.1:5090 -> 127.0.0.1:5060  request INVITE\nINVITE sip:bob@127.0.0.1 SIP/2.0\nCall-ID: call-1@x\n",
		"#3 2026-11-25T12:20:33.002000Z UDP 127.0.0.1:5090 -> 127.0.0.1:5060  response 180 Ringing (1xx Informational)\n",
		"(more packets follow: add --cursor ",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("text answer lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "\r") {
		t.Fatal("text answer has carriage returns")
	}
	_, empty := get(t, srv, "/api/v1/packets?format=text&from=2030-01-01T00:00:00Z")
	if empty != "no packets match\n" {
		t.Fatalf("unexpected empty answer %q", empty)
	}
}

func TestCall(t *testing.T) {
	srv, _ := newServer(t)
	code, a := getJSON(t, srv, "/api/v1/calls/call-1@x")
	if code != 200 || len(a.Packets) != 5 {
		t.Fatalf("unexpected call answer: %d, %d packets", code, len(a.Packets))
	}
	code, a = getJSON(t, srv, "/api/v1/calls/"+url.PathEscape("reg/1 x"))
	if code != 200 || len(a.Packets) != 1 {
		t.Fatalf("unexpected answer for an escaped Call-ID: %d, %d packets, %s", code, len(a.Packets), a.Error)
	}
	code, a = getJSON(t, srv, "/api/v1/calls/nope")
	if code != http.StatusNotFound || a.Error == "" {
		t.Fatalf("unexpected answer for an unknown call: %d %q", code, a.Error)
	}
}

func TestHealth(t *testing.T) {
	_, db := newServer(t)
	sp, err := spool.Open(spool.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Append([]byte("a waiting batch"), 1); err != nil { // the spool does not read it
		t.Fatal(err)
	}
	a := api.New(db, nil, nil)
	a.SetSpool(sp)
	srv := httptest.NewServer(a)
	defer srv.Close()
	f := func(path string, wantCode int, wantDatabase string) {
		t.Helper()
		code, body := get(t, srv, path)
		var h struct {
			Status     string `json:"status"`
			Database   string `json:"database"`
			SpoolBytes int64  `json:"spool_bytes"`
		}
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("GET %s: not JSON: %v: %s", path, err, body)
		}
		if code != wantCode || h.Status != "ok" || h.Database != wantDatabase || h.SpoolBytes != sp.Bytes() || h.SpoolBytes == 0 {
			t.Fatalf("GET %s: unexpected answer; got %d %s; want %d, database %s, spool_bytes %d", path, code, body, wantCode, wantDatabase, sp.Bytes())
		}
	}
	f("/healthz", http.StatusOK, "up")
	f("/readyz", http.StatusOK, "up")
	db.Close()
	// Alive without its database: it keeps receiving into the spool.
	f("/healthz", http.StatusOK, "down")
	f("/readyz", http.StatusServiceUnavailable, "down")
}

type fakeGuard struct {
	mu     sync.Mutex
	paused bool
	detail string
}

func (g *fakeGuard) GuardState() (bool, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused, g.detail
}

func (g *fakeGuard) set(paused bool, detail string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused, g.detail = paused, detail
}

func TestHealth_DiskGuard(t *testing.T) {
	_, db := newServer(t)
	g := &fakeGuard{detail: "dropped 2026-11-02, the oldest day, for space"}
	a := api.New(db, nil, nil)
	a.SetGuard(g)
	srv := httptest.NewServer(a)
	defer srv.Close()
	f := func(path string, wantCode int, wantStatus, wantWriting string) {
		t.Helper()
		code, body := get(t, srv, path)
		var h struct {
			Status  string `json:"status"`
			Writing string `json:"writing"`
			Disk    string `json:"disk"`
		}
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("GET %s: not JSON: %v: %s", path, err, body)
		}
		_, detail := g.GuardState()
		if code != wantCode || h.Status != wantStatus || h.Writing != wantWriting || h.Disk != detail {
			t.Fatalf("GET %s: unexpected answer; got %d %s; want %d, status %s, writing %s, disk %q", path, code, body, wantCode, wantStatus, wantWriting, detail)
		}
	}
	f("/healthz", http.StatusOK, "ok", "on")
	f("/readyz", http.StatusOK, "ok", "on")
	g.set(true, "only today's partition is left: new packets are dropped until space returns")
	f("/healthz", http.StatusOK, "degraded", "paused")
	f("/readyz", http.StatusServiceUnavailable, "degraded", "paused")
}
