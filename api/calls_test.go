package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
)

// fixtureCall is a call of the real captures as the listing must show it.
type fixtureCall struct {
	first hepvault.Packet // its first request
	json  string          // callflow.Summarize of its packets, as JSON
	sum   callflow.Call
}

// newCallsServer serves the API over the real messages of the Kamailio
// run (HEP3) and of the sipp run over TCP, the latter moved to IPv6
// (2001:db8::a.b.c.d) to tell them apart; it returns their calls in start
// order: each Call-ID whose first packet is a request without a To tag.
func newCallsServer(t *testing.T) (*httptest.Server, []fixtureCall, time.Time, time.Time) {
	t.Helper()
	db, _ := migratedDB(t)
	ctx := context.Background()
	pkts := loadCapture(t, fixture.HEP3+".pcap")
	for _, p := range loadCapture(t, fixture.SIPPTCPPcap) {
		for _, a := range []*netip.Addr{&p.SrcIP, &p.DstIP} {
			b := a.As4()
			*a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
		}
		pkts = append(pkts, p)
	}
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
		t.Fatal(err)
	}
	callflow.Sort(pkts)
	byID := map[string][]hepvault.Packet{}
	var order []string
	for _, p := range pkts {
		if byID[p.CallID] == nil {
			order = append(order, p.CallID)
		}
		byID[p.CallID] = append(byID[p.CallID], p)
	}
	var calls []fixtureCall
	for _, id := range order {
		ps := byID[id]
		if ps[0].Kind != hepvault.KindRequest || ps[0].ToTag != "" {
			continue
		}
		sum := callflow.Summarize(ps)
		b, err := json.Marshal(sum)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, fixtureCall{first: ps[0], json: string(b), sum: sum})
	}
	if len(calls) != len(order) {
		t.Fatalf("fixtures changed: %d of %d Call-IDs start with a request without a To tag", len(calls), len(order))
	}
	srv := httptest.NewServer(api.New(db, nil, nil))
	t.Cleanup(srv.Close)
	from := pkts[0].CapturedAt.Truncate(time.Second)
	to := pkts[len(pkts)-1].CapturedAt.Add(time.Second)
	return srv, calls, from, to
}

type callsAnswer struct {
	Calls []json.RawMessage `json:"calls"`
	Next  string            `json:"next"`
	Error string            `json:"error"`
}

func getCalls(t *testing.T, srv *httptest.Server, query string) (int, callsAnswer) {
	t.Helper()
	code, body := get(t, srv, "/api/v1/calls?"+query)
	var a callsAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET %s: not JSON: %v: %s", query, err, body)
	}
	return code, a
}

func TestCalls_Success(t *testing.T) {
	srv, calls, from, to := newCallsServer(t)
	window := "from=" + url.QueryEscape(from.Format(time.RFC3339Nano)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339Nano))
	states := map[callflow.State]bool{}
	for _, c := range calls {
		states[c.sum.State] = true
	}
	if len(calls) < 10 || len(states) < 3 {
		t.Fatalf("fixtures changed: %d calls in %d states", len(calls), len(states))
	}

	// Every call once, in start order, as callflow reads its packets.
	code, a := getCalls(t, srv, window+"&limit=1000")
	if code != http.StatusOK || a.Next != "" || len(a.Calls) != len(calls) {
		t.Fatalf("unexpected answer: %d, %d calls (want %d), next %q, error %q", code, len(a.Calls), len(calls), a.Next, a.Error)
	}
	for i, c := range calls {
		if got := string(a.Calls[i]); got != c.json {
			t.Fatalf("unexpected call %d;\ngot  %s\nwant %s", i, got, c.json)
		}
	}

	// Paging by cursor: each call once.
	var paged []string
	q := window + "&limit=3"
	for range len(calls) {
		code, a := getCalls(t, srv, q)
		if code != http.StatusOK {
			t.Fatalf("unexpected status %d: %s", code, a.Error)
		}
		for _, c := range a.Calls {
			paged = append(paged, string(c))
		}
		if a.Next == "" {
			break
		}
		q = window + "&limit=3&cursor=" + a.Next
	}
	var all []string
	for _, c := range calls {
		all = append(all, c.json)
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("unexpected calls paged by 3: %d calls; want %d", len(paged), len(all))
	}

	// Filters: the first request's fields, the summary's state and status.
	f := func(query string, want func(c fixtureCall) bool) {
		t.Helper()
		var w []string
		for _, c := range calls {
			if want(c) {
				w = append(w, c.json)
			}
		}
		code, a := getCalls(t, srv, window+"&limit=1000&"+query)
		var got []string
		for _, c := range a.Calls {
			got = append(got, string(c))
		}
		if code != http.StatusOK || !slices.Equal(got, w) {
			t.Fatalf("%s: unexpected calls (%d); got %d; want %d:\n%s", query, code, len(got), len(w), strings.Join(got, "\n"))
		}
		if len(w) == 0 || len(w) == len(calls) && !strings.HasPrefix(query, "capture_id") {
			t.Fatalf("%s: the fixtures no longer test this filter: %d of %d calls", query, len(w), len(calls))
		}
	}
	invite := calls[slices.IndexFunc(calls, func(c fixtureCall) bool { return c.sum.Method == "INVITE" })]
	user := invite.first.FromUser
	isUser := func(u string) func(fixtureCall) bool {
		return func(c fixtureCall) bool {
			k := hepvault.UserKey(u)
			p := c.first
			return slices.ContainsFunc([]string{p.FromUser, p.ToUser, p.RURIUser, p.PAIUser}, func(s string) bool { return s != "" && hepvault.UserKey(s) == k })
		}
	}
	f("user="+url.QueryEscape(user), isUser(user))
	f("from_user="+url.QueryEscape(user), func(c fixtureCall) bool { return hepvault.UserKey(c.first.FromUser) == hepvault.UserKey(user) })
	f("method=INVITE", func(c fixtureCall) bool { return c.sum.Method == "INVITE" })
	f("method=register,options", func(c fixtureCall) bool { return c.sum.Method == "REGISTER" || c.sum.Method == "OPTIONS" })
	f("state=answered", func(c fixtureCall) bool { return c.sum.State == callflow.StateAnswered })
	f("state=busy,cancelled,failed,no_answer", func(c fixtureCall) bool {
		return slices.Contains([]callflow.State{"busy", "cancelled", "failed", "no_answer"}, c.sum.State)
	})
	f("status=200", func(c fixtureCall) bool { return c.sum.FinalStatus == 200 })
	v6 := netip.MustParseAddr("2001:db8::7f00:1")
	f("ip="+v6.String(), func(c fixtureCall) bool { return c.first.SrcIP == v6 || c.first.DstIP == v6 })
	f("capture_id="+strconv.Itoa(int(invite.first.CaptureID)), func(c fixtureCall) bool { return c.first.CaptureID == invite.first.CaptureID })

	// A window that starts after the first call started leaves it out.
	later := "from=" + url.QueryEscape(calls[0].first.CapturedAt.Add(time.Microsecond).Format(time.RFC3339Nano)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339Nano))
	if _, a := getCalls(t, srv, later+"&limit=1000"); len(a.Calls) == 0 || string(a.Calls[0]) == calls[0].json {
		t.Fatalf("unexpected calls from after the first call's start: %d, the first %s", len(a.Calls), a.Calls[0])
	}
	// No call: an empty list, not null.
	if code, body := get(t, srv, "/api/v1/calls?from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z"); code != 200 || body != "{\"calls\":[]}\n" {
		t.Fatalf("unexpected empty answer: %d %q", code, body)
	}
}

func TestCalls_Failure(t *testing.T) {
	srv, _ := newServer(t)
	f := func(query, wantInError string) {
		t.Helper()
		code, a := getCalls(t, srv, query)
		if code != http.StatusBadRequest || !strings.Contains(a.Error, wantInError) {
			t.Fatalf("%s: unexpected answer; got %d %q; want 400 with %q", query, code, a.Error, wantInError)
		}
	}
	f("from=yesterday", "from")
	f("from=2026-11-25T12:00:00Z&to=2026-11-25T11:00:00Z", "must be after")
	f("limit=0", "limit")
	f("limit=1001", "from 1 to 1000")
	f("limit=ten", "limit")
	f("limit=1&limit=2", "given 2 times")
	f("state=ringing", "a call state")
	f("state=busy&state=failed", "given 2 times")
	f("status=99", "final status")
	f("status=200,", "empty value")
	f("ip=host", "ip")
	f("capture_id=-1", "capture_id")
	f("cursor=xyz", "cursor")
	f("kind=request", "unknown parameter")
	f("call_id=x", "unknown parameter")
	f("format=pcap", "unknown parameter")
	f("user=%FF", "UTF-8")
}
