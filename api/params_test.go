package api

import (
	"errors"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
)

func TestParseFilter_Success(t *testing.T) {
	from := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f := func(query string, want hepvault.Filter) {
		t.Helper()
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseFilter(q)
		if err != nil {
			t.Fatalf("%s: unexpected error; got %v; want nil", query, err)
		}
		if want.Limit == 0 {
			want.Limit = DefaultLimit
		}
		// Times compare by instant, whatever location ParseTime gives them.
		if !got.From.Equal(want.From) || !got.To.Equal(want.To) {
			t.Fatalf("%s: unexpected window; got %v to %v; want %v to %v", query, got.From, got.To, want.From, want.To)
		}
		got.From, got.To, want.From, want.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: unexpected filter;\ngot  %+v\nwant %+v", query, got, want)
		}
	}
	addrs := func(ss ...string) []netip.Addr {
		var as []netip.Addr
		for _, s := range ss {
			as = append(as, netip.MustParseAddr(s))
		}
		return as
	}
	hundred := make([]string, MaxListValues)
	hundredCodes := make([]int, MaxListValues)
	for i := range hundred {
		hundredCodes[i] = 100 + i
		hundred[i] = strconv.Itoa(hundredCodes[i])
	}

	f("", hepvault.Filter{})
	f("limit=5", hepvault.Filter{Limit: 5})
	f("from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z", hepvault.Filter{From: from, To: from.Add(time.Hour)})
	f("format=text", hepvault.Filter{})

	f("kind=response", hepvault.Filter{Kinds: []hepvault.Kind{hepvault.KindResponse}})
	f("kind=request,invalid", hepvault.Filter{Kinds: []hepvault.Kind{hepvault.KindRequest, hepvault.KindInvalid}})
	f("kind=", hepvault.Filter{})
	f("method=invite", hepvault.Filter{Methods: []string{"INVITE"}})
	f("method=INVITE,bye", hepvault.Filter{Methods: []string{"INVITE", "BYE"}})
	f("method="+url.QueryEscape("INVITE, BYE ,\tCANCEL"), hepvault.Filter{Methods: []string{"INVITE", "BYE", "CANCEL"}})
	f("method=ünïcode", hepvault.Filter{Methods: []string{"ÜNÏCODE"}})
	f("status=486", hepvault.Filter{Statuses: []int{486}})
	f("status=486,487,100,699", hepvault.Filter{Statuses: []int{486, 487, 100, 699}})
	f("status="+strings.Join(hundred, ","), hepvault.Filter{Statuses: hundredCodes})
	f("status_class=1xx", hepvault.Filter{StatusClasses: []hepvault.StatusClass{1}})
	f("status_class=4xx,5XX,6xX,2Xx", hepvault.Filter{StatusClasses: []hepvault.StatusClass{4, 5, 6, 2}})
	f("status=486&status_class=5xx", hepvault.Filter{Statuses: []int{486}, StatusClasses: []hepvault.StatusClass{5}})

	f("src_ip=10.0.0.1", hepvault.Filter{SrcIPs: addrs("10.0.0.1")})
	f("src_ip=10.0.0.1,2001:db8::1", hepvault.Filter{SrcIPs: addrs("10.0.0.1", "2001:db8::1")})
	f("dst_ip=::ffff:192.0.2.1", hepvault.Filter{DstIPs: addrs("192.0.2.1")})
	f("ip=10.0.0.1,::1", hepvault.Filter{IPs: addrs("10.0.0.1", "::1")})
	f("src_ip=10.0.0.1&dst_ip=10.0.0.2&ip=10.0.0.3", hepvault.Filter{SrcIPs: addrs("10.0.0.1"), DstIPs: addrs("10.0.0.2"), IPs: addrs("10.0.0.3")})
	f("capture_id=4242", hepvault.Filter{CaptureIDs: []uint32{4242}})
	f("capture_id=0,4294967295", hepvault.Filter{CaptureIDs: []uint32{0, 4294967295}})

	// Free text is taken as it is: a comma is part of the value.
	f("call_id="+url.QueryEscape("a84b,4c76@pc33"), hepvault.Filter{CallID: "a84b,4c76@pc33"})
	f("correlation_id="+url.QueryEscape("corr-1, x"), hepvault.Filter{CorrelationID: "corr-1, x"})
	f("from_user=alice", hepvault.Filter{FromUser: "alice"})
	f("to_user="+url.QueryEscape("+49 30 7741528"), hepvault.Filter{ToUser: "+49 30 7741528"})
	f("ruri_user=bob", hepvault.Filter{RURIUser: "bob"})
	f("user="+url.QueryEscape("müller;x=1"), hepvault.Filter{User: "müller;x=1"})
	f("from_user=a&to_user=b&ruri_user=c&user=d", hepvault.Filter{FromUser: "a", ToUser: "b", RURIUser: "c", User: "d"})

	f("text=BYE&from=2026-11-25T12:00:00Z&to=2026-11-25T12:00:01Z", hepvault.Filter{Text: "BYE", From: from, To: from.Add(time.Second)})
	f("text="+url.QueryEscape("X-Foo: a,b")+"&from=2026-11-25T12:00:00Z&to=2026-11-26T12:00:00Z",
		hepvault.Filter{Text: "X-Foo: a,b", From: from, To: from.Add(hepvault.MaxTextWindow)})
	f("text=&from=2026-11-25T12:00:00Z", hepvault.Filter{From: from})
}

func TestParseFilter_Failure(t *testing.T) {
	f := func(query string, wantInError ...string) {
		t.Helper()
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseFilter(q)
		if err == nil || !errors.Is(err, hepvault.ErrInvalid) {
			t.Fatalf("%s: unexpected error; got %v; want one wrapping %v", query, err, hepvault.ErrInvalid)
		}
		for _, want := range wantInError {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: unexpected error; got %v; want it to contain %q", query, err, want)
			}
		}
	}
	many := strings.Repeat("INVITE,", MaxListValues) + "BYE"
	window := "&from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z"

	f("limt=5", "unknown parameter", `"limt"`)
	f("users=alice", "unknown parameter", `"users"`)
	f("method=INVITE&method=BYE", "method", "given 2 times", "comma")
	f("status=486&status=487&status=488", "status", "given 3 times")
	f("from=yesterday", "from")
	f("limit=0", "limit")
	f("cursor=xyz", "cursor")

	f("kind=reply", "kind", `"reply"`)
	f("kind=request,reply", "kind", `"reply"`, `"request,reply"`)
	f("kind=Request", "kind", `"Request"`)
	f("method=INVITE,,BYE", "method", "empty value", `"INVITE,,BYE"`)
	f("method=INVITE,", "method", "empty value", `"INVITE,"`)
	f("method=,INVITE", "method", "empty value")
	f("method=,", "method", "empty value")
	f("method="+url.QueryEscape("INVITE, ,BYE"), "method", "empty value")
	f("method="+many, "method", "101 values", "at most 100")
	f("status=99", "status", `"99"`)
	f("status=700", "status", `"700"`)
	f("status=abc", "status", `"abc"`)
	f("status=486,4x7", "status", `"4x7"`, `"486,4x7"`)
	f("status=486,,487", "status", "empty value")
	f("status="+strings.Repeat("486,", MaxListValues)+"487", "status", "at most 100")
	f("status_class=7xx", "status_class", `"7xx"`)
	f("status_class=0xx", "status_class", `"0xx"`)
	f("status_class=4", "status_class", `"4"`)
	f("status_class=4x", "status_class", `"4x"`)
	f("status_class=4xxx", "status_class", `"4xxx"`)
	f("status_class=486", "status_class", `"486"`)
	f("status_class=4xx,5yy", "status_class", `"5yy"`)
	f("status_class=4xx,", "status_class", "empty value")
	f("src_ip=300.1.1.1", "src_ip", `"300.1.1.1"`)
	f("src_ip=10.0.0.1,host", "src_ip", `"host"`)
	f("dst_ip=host", "dst_ip", `"host"`)
	f("dst_ip=10.0.0.1,,10.0.0.2", "dst_ip", "empty value")
	f("ip=10.0.0", "ip must be", `"10.0.0"`)
	f("ip=10.0.0.1,10.0.0.256", "ip must be", `"10.0.0.256"`)
	f("ip="+strings.Repeat("10.0.0.1,", MaxListValues)+"10.0.0.2", "ip lists", "at most 100")
	f("capture_id=-1", "capture_id", `"-1"`)
	f("capture_id=4294967296", "capture_id", `"4294967296"`)
	f("capture_id=1,x", "capture_id", `"x"`)
	f("capture_id=1,", "capture_id", "empty value")

	for _, name := range []string{"method", "call_id", "correlation_id", "from_user", "to_user", "ruri_user", "user", "text"} {
		f(name+"=a%00b"+window, name, "UTF-8 text without NUL")
		f(name+"=%FF%FE"+window, name, "UTF-8 text without NUL")
	}
	f("method=INVITE,BY%00E", "method", "UTF-8 text without NUL")

	f("text=BYE", "text=", "needs from and to", "24h", "neither")
	f("text=BYE&from=2026-11-25T12:00:00Z", "needs from and to", "to is missing")
	f("text=BYE&to=2026-11-25T12:00:00Z", "needs from and to", "from is missing")
	f("text=BYE&from=2026-11-25T12:00:00Z&to=2026-11-26T12:00:00.000001Z", "at most 24h apart", "24h0m0.000001s")
	f("text=BYE&from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z", "at most 24h apart", "168h0m0s")
	f("text=BYE&from=2026-11-25T13:00:00Z&to=2026-11-25T12:00:00Z", "must be after")
}
