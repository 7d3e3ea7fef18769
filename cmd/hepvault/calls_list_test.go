package main

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/internal/fixture"
)

// TestCalls_List imports the real captures into a running hepvault and
// lists their calls: one row per call, in start order, each with what
// callflow reads from the call's packets; --json is the API's answer.
func TestCalls_List(t *testing.T) {
	s := startTestServer(t)
	files := []string{fixture.HEP3 + ".pcap", fixture.SIPPTCPPcap}
	var want []callflow.Call
	for _, file := range files {
		if out, errOut, err := runImportCmd(t, s.cfg.DB, filepath.Join(fixture.Dir(t), file)); err != nil {
			t.Fatalf("import %s: %v\n%s%s", file, err, out, errOut)
		}
		for _, pkts := range fixtureCalls(t, file) {
			want = append(want, callflow.Summarize(pkts))
		}
	}
	slices.SortStableFunc(want, func(a, b callflow.Call) int { return a.StartedAt.Compare(b.StartedAt) })
	from := want[0].StartedAt.Format(time.RFC3339Nano)
	to := want[len(want)-1].StartedAt.Add(time.Microsecond).Format(time.RFC3339Nano)
	list := func(args ...string) string {
		t.Helper()
		out, errOut, err := runCallsCmd(append([]string{"list", "--server", s.url(""), "--from", from, "--to", to}, args...)...)
		if err != nil {
			t.Fatalf("calls list %q: %v\n%s", args, err, errOut)
		}
		return out
	}
	rows := func(out string) [][]string {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if !strings.HasPrefix(lines[0], "STARTED_AT ") || !strings.HasSuffix(lines[0], "  CALL_ID") {
			t.Fatalf("unexpected table header:\n%s", out)
		}
		var rs [][]string
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "(more calls follow") {
				break
			}
			rs = append(rs, regexp.MustCompile(`\s{2,}`).Split(l, -1))
		}
		return rs
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}

	got := rows(list("--limit", "1000"))
	if len(got) != len(want) {
		t.Fatalf("unexpected rows: %d; want %d", len(got), len(want))
	}
	for i, c := range want {
		final, pdd, dur := "-", "-", "-"
		if c.FinalStatus != 0 {
			final = strconv.Itoa(c.FinalStatus) + " " + c.FinalReason
		}
		if c.HasPDD {
			pdd = strconv.FormatFloat(float64(c.PDD.Microseconds())/1e3, 'f', 1, 64) + " ms"
		}
		if c.HasDuration {
			dur = strconv.FormatFloat(float64(c.Duration.Microseconds())/1e6, 'f', 1, 64) + " s"
		}
		w := []string{c.StartedAt.Format(callflow.TimeFormat), string(c.State), final, c.Method,
			dash(c.FromUser) + " -> " + dash(c.ToUser), c.SrcIP + " -> " + c.DstIP, pdd, dur, strconv.Itoa(c.Packets), c.CallID}
		if !slices.Equal(got[i], w) {
			t.Fatalf("unexpected row %d;\ngot  %q\nwant %q", i, got[i], w)
		}
	}

	// A page at a time: the cursor printed continues after the last row.
	out := list("--limit", "2")
	_, cursor, ok := strings.Cut(out, "(more calls follow: add --cursor ")
	if !ok || len(rows(out)) != 2 {
		t.Fatalf("unexpected first page:\n%s", out)
	}
	cursor = strings.TrimSuffix(cursor, ")\n")
	if next := rows(list("--limit", "2", "--cursor", cursor)); len(next) != 2 || next[0][9] != want[2].CallID {
		t.Fatalf("unexpected second page: %q; want it to start with %s", next, want[2].CallID)
	}

	// Filters reach the API.
	for _, r := range rows(list("--state", "busy,cancelled", "--method", "INVITE")) {
		if r[1] != "busy" && r[1] != "cancelled" || r[3] != "INVITE" {
			t.Fatalf("unexpected row under --state busy,cancelled: %q", r)
		}
	}
	if out := list("--user", "no-such-user"); out != "no calls match\n" {
		t.Fatalf("unexpected answer for no call: %q", out)
	}

	// Without a subcommand, and --json: the API's own answer.
	out, errOut, err := runCallsCmd("--server", s.url(""), "--from", from, "--to", to, "--json", "--limit", "5")
	if err != nil {
		t.Fatalf("calls --json: %v\n%s", err, errOut)
	}
	q := url.Values{"from": {from}, "to": {to}, "limit": {"5"}}
	resp, err := http.Get(s.url("/api/v1/calls?" + q.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if out != string(body) || !strings.Contains(out, `"call_id":"`+want[0].CallID+`"`) {
		t.Fatalf("unexpected --json;\ngot  %s\nwant %s", out, body)
	}

	// The API's refusal, in its words.
	_, _, err = runCallsCmd("list", "--server", s.url(""), "--from", from, "--to", to, "--state", "ringing")
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), `state must be a call state`) {
		t.Fatalf("unexpected error for a bad state; got %v", err)
	}
}
