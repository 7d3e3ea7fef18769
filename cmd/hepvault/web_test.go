package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/fixture/collected"
	"github.com/hepvault/hepvault/internal/livetest"
	"github.com/hepvault/hepvault/internal/pcapout/pcapouttest"
	"github.com/hepvault/hepvault/store"
)

// ScreenshotsEnv names the folder the browser test writes its screenshots
// to; unset, they go to the test's temporary folder.
const ScreenshotsEnv = "HEPVAULT_SCREENSHOTS"

// maxFirstLoad is the most the page's first load (HTML, JS and CSS) may
// weigh.
const maxFirstLoad = 200 << 10

// webToken is the API token of the browser test's server.
const webToken = "web-test-token"

// arrow is one message of the ladder as the page draws it.
type arrow struct {
	Src, Dst, Label string
	X1, X2          float64
	Loop            bool
}

// TestWeb_Browser drives the web page in a headless Chromium against a
// hepvault holding the real Kamailio capture, behind a named API token
// with the export role: the
// token prompt, the packet list of a window, a call's ladder (arrows,
// order, labels and columns held to internal/callflow), a raw message, the
// shared URL of a call, and its pcap.
func TestWeb_Browser(t *testing.T) {
	chrome := livetest.RequireProgram(t, "chromium", "chromium", "chromium-browser", "google-chrome")
	// A named token of the tokens file, with the role the pcap needs.
	sum := sha256.Sum256([]byte(webToken))
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("browser export "+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startTestServerWith(t, func(c *serveConfig) { c.Guard.APITokens = tokens })
	file := filepath.Join(fixture.Dir(t), fixture.HEP3+".pcap")
	if out, errOut, err := runImportCmd(t, s.cfg.DB, file); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, errOut)
	}
	shots := os.Getenv(ScreenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The first load: what a browser fetches before it asks the API anything.
	var size int
	for _, path := range []string{"/", "/ui/app.js", "/ui/app.css"} {
		b := webGet(t, s, path, "")
		size += len(b)
	}
	if size >= maxFirstLoad {
		t.Fatalf("unexpected first load of the page; got %d bytes; want under %d", size, maxFirstLoad)
	}

	// The window: every packet of the capture, its start written as `date`
	// prints it, its end in RFC 3339.
	all := webPackets(t, s, "/api/v1/packets?limit=10000")
	if len(all) < 300 {
		t.Fatalf("unexpected import: %d packets", len(all))
	}
	first, last := all[0].CapturedAt, all[len(all)-1].CapturedAt
	from := first.Truncate(time.Second).UTC().Format("Mon Jan _2 15:04:05 MST 2006")
	to := last.Add(time.Second).UTC().Format(time.RFC3339)
	window := url.Values{"from": {from}, "to": {to}}

	// The call: the answered INVITE call with the most messages.
	calls := map[string][]hepvault.Packet{}
	for _, p := range all {
		calls[p.CallID] = append(calls[p.CallID], p)
	}
	var callID string
	for _, id := range slices.Sorted(maps.Keys(calls)) {
		c := callflow.Summarize(calls[id])
		if c.Method == "INVITE" && c.State == callflow.StateAnswered && (callID == "" || len(calls[id]) > len(calls[callID])) {
			callID = id
		}
	}
	if callID == "" {
		t.Fatal("the capture has no answered call")
	}
	callPkts := webPackets(t, s, "/api/v1/calls/"+url.PathEscape(callID))
	callflow.Sort(callPkts)

	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 900),
		chromedp.UserDataDir(t.TempDir()),
	)...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}

	// The browser's zone is Berlin's, so that its times differ from UTC's.
	do("set the browser's zone", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"})
		return err
	}))

	// The token: the page asks for it at the first API call that answers
	// 401, and again while the API refuses what it was given.
	do("open the packet list",
		chromedp.Navigate(s.url("/#packets?"+window.Encode())),
		chromedp.WaitVisible(chromedp.CSS("#token-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), "wrong-"+webToken),
		chromedp.Click(chromedp.CSS("#token-go")),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.querySelector('#token-form').hidden && document.querySelector('#note').textContent.includes('refused')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page did not ask again after a wrong token: %v", err)
	}
	do("enter the token",
		chromedp.SendKeys(chromedp.CSS("#token"), webToken),
		chromedp.Click(chromedp.CSS("#token-go")),
		chromedp.WaitVisible(chromedp.CSS("#list tbody tr")),
	)
	if n := eval(`document.querySelector('#list').dataset.rows`); n != fmt.Sprint(len(all)) {
		t.Fatalf("unexpected packet list; got %s rows; want %d", n, len(all))
	}
	// The window as the page reads it: the `date` output in UTC and in the
	// browser's zone.
	start := first.Truncate(time.Second)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	shown := eval(`document.querySelector('#window-shown').textContent`)
	// The browser's locale writes the clock in 12 or 24 hours.
	wantUTC, local12, local24 := start.UTC().Format("2006-01-02 15:04:05.000 UTC"), start.In(berlin).Format("3:04:05 PM"), start.In(berlin).Format("15:04:05")
	if !strings.Contains(shown, "from: "+wantUTC+" = ") || !strings.Contains(shown, local12) && !strings.Contains(shown, local24) {
		t.Fatalf("unexpected window shown; got %q; want the start as %q and %q (Berlin)", shown, wantUTC, local24)
	}
	// `date` output in another zone reads as that zone's time.
	if got := eval(setFrom + `('Wed Nov 25 13:31:47 CET 2026')`); !strings.Contains(got, "from: "+wantUTC+" = ") {
		t.Fatalf("unexpected reading of a CET date; got %q; want %q", got, wantUTC)
	}
	if got := eval(setFrom + `('Wed Nov 25 13:31:47 XYZ 2026')`); !strings.Contains(got, "hepvault will say") {
		t.Fatalf("unexpected reading of an unknown zone: %q", got)
	}
	// A time without a zone: the server refuses it, the page says why and
	// marks the field; the list it showed is gone.
	do("search with a time without a zone",
		chromedp.Evaluate[chromedp.Void](setFrom+`('2026-11-25 12:31:47')`),
		chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitVisible(chromedp.CSS("#note.error")),
	)
	if msg, bad := eval(`document.querySelector('#note').textContent`), eval(`String(document.querySelector('#from').classList.contains('bad'))`); !strings.HasPrefix(msg, "from: ") || bad != "true" {
		t.Fatalf("unexpected answer to a time without a zone: %q, field marked %s", msg, bad)
	}
	do("search the window again",
		chromedp.Navigate(s.url("/#packets?"+window.Encode())),
		chromedp.WaitVisible(chromedp.CSS("#list tbody tr")),
	)
	if got := eval(`document.querySelector('#list tbody tr .badge').textContent`); got != all[0].Kind.String() && !strings.HasSuffix(got, "xx") {
		t.Fatalf("unexpected classification of the first packet: %q", got)
	}
	shot("packets.png")

	// The call, from a packet of it.
	// The list draws the rows in sight only: scroll to the call's first packet.
	row := slices.IndexFunc(all, func(p hepvault.Packet) bool { return p.CallID == callID })
	if got := eval(fmt.Sprintf(rowAt, row, `tr.cells[6].textContent`)); got != callID {
		t.Fatalf("unexpected row %d of the packet list; got Call-ID %q; want %q", row, got, callID)
	}
	do("open the call from its packet",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#list tbody tr[data-i="%d"] td:nth-child(6)`, row))),
		chromedp.WaitVisible(chromedp.CSS("svg.ladder")),
	)
	checkLadder(t, ctx, callID, callPkts)

	// A raw message, on a click on its arrow: the one with the most bytes.
	k := 0
	for i, p := range callPkts {
		if len(p.Raw) > len(callPkts[k].Raw) {
			k = i
		}
	}
	do("open a raw message",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`svg.ladder .msg[data-i="%d"] text.label`, k))),
		chromedp.WaitVisible(chromedp.CSS("#raw")),
	)
	if got := eval(`document.querySelector('#raw').textContent`); got != string(callPkts[k].Raw) {
		t.Fatalf("unexpected raw message %d; got\n%q\nwant\n%q", k, got, callPkts[k].Raw)
	}
	shot("call.png")

	// The view's URL, opened afresh, shows the same call and message.
	shared := eval(`location.href`)
	if !strings.Contains(shared, "#call?") || !strings.Contains(shared, fmt.Sprintf("msg=%d", k)) {
		t.Fatalf("unexpected URL of the call view: %s", shared)
	}
	do("open the shared URL",
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(shared),
		chromedp.WaitVisible(chromedp.CSS("#raw")),
	)
	if got := eval(`document.querySelector('#raw').textContent`); got != string(callPkts[k].Raw) {
		t.Fatalf("unexpected raw message from the shared URL; got\n%q", got)
	}
	checkLadder(t, ctx, callID, callPkts)

	// A call with another leg (as the call list names legs): one ladder of
	// both legs' messages in time order.
	var leg string
	for _, id := range slices.Sorted(maps.Keys(calls)) {
		if id != callID && callflow.Summarize(calls[id]).Method == "INVITE" {
			leg = id
			break
		}
	}
	both := append(webPackets(t, s, "/api/v1/calls/"+url.PathEscape(leg)), callPkts...)
	callflow.Sort(both)
	legQuery := url.Values{"id": {callID}, "legs": {leg}}
	do("open a call with its leg",
		chromedp.Navigate(s.url("/#call?"+legQuery.Encode())),
		chromedp.WaitVisible(chromedp.CSS("svg.ladder")),
	)
	checkLadder(t, ctx, callID, both)
	if got := eval(`document.querySelector('.callhead').textContent`); !strings.Contains(got, "legs: "+leg) {
		t.Fatalf("unexpected head of a call with a leg: %q", got)
	}
	do("open the call alone", chromedp.Navigate(shared), chromedp.WaitVisible(chromedp.CSS("#raw")))

	// The real B2BUA legs (Kamailio giving the callee side a Call-ID of its
	// own, X-CID naming the caller's): from either leg, one ladder of both
	// legs' arrows; "this leg alone" shows one.
	legPkts, pairs := legsFixture(t)
	if err := store.NewWriter(s.db, store.DefaultWriterConfig()).WriteBatch(context.Background(), legPkts); err != nil {
		t.Fatal(err)
	}
	pair := pairs[0]
	var bothLegs, calleeLeg []hepvault.Packet
	for _, p := range legPkts {
		if p.CallID == pair[0] || p.CallID == pair[1] {
			bothLegs = append(bothLegs, p)
		}
		if p.CallID == pair[1] {
			calleeLeg = append(calleeLeg, p)
		}
	}
	for i, id := range pair {
		do("open a B2BUA leg", chromedp.Navigate("about:blank"),
			chromedp.Navigate(s.url("/#call?"+url.Values{"id": {id}}.Encode())), chromedp.WaitVisible(chromedp.CSS("svg.ladder")))
		checkLadder(t, ctx, id, bothLegs)
		if got := eval(`document.querySelector('.callhead').textContent`); !strings.Contains(got, "legs: "+pair[1-i]) {
			t.Fatalf("unexpected head of leg %s: %q; want it to name leg %s", id, got, pair[1-i])
		}
	}
	shot("legs.png")
	do("this leg alone", chromedp.Click(chromedp.CSS("#legs-toggle")))
	for deadline := time.Now().Add(10 * time.Second); eval(`(document.querySelector('#legs-toggle') || {}).textContent || ''`) != "with its legs"; {
		if time.Now().After(deadline) {
			t.Fatal("the page did not show the leg alone after a click on #legs-toggle")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := eval(`location.hash`); !strings.Contains(got, "alone=1") {
		t.Fatalf("unexpected URL of a leg alone: %s", got)
	}
	checkLadder(t, ctx, pair[1], calleeLeg)
	do("open the call alone again", chromedp.Navigate(shared), chromedp.WaitVisible(chromedp.CSS("#raw")))

	// The pcap: the page fetches it with the token and saves it.
	dir := t.TempDir()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	do("download the pcap",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptrTo(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS("#pcap")),
	)
	var pcap []byte
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the pcap download was cancelled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			if pcap, err = os.ReadFile(filepath.Join(dir, ev.GUID)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if n, err := pcapFrames(pcap); err != nil || n != len(callPkts) {
		t.Fatalf("unexpected pcap download; got %d frames (%v); want %d", n, err, len(callPkts))
	}
	pcapouttest.Check(t, pcap, callPkts)

	// 10,000 calls in a window, a page of 1,000 at a time as the API gives
	// them: the page's call list is fed the contract's answers by a
	// stand-in for fetch. What keeps it quick is that only the rows in sight
	// are in the page (checked below); the time is logged, not asserted, as
	// a loaded machine would make a bound flaky.
	perf, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Rows, Worst, Total, First float64 }](tenThousandCalls, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("10,000 calls: %v", err)
	}
	t.Logf("10,000 calls: the first page of 1,000 in %.0f ms, the slowest in %.0f ms, all in %.0f ms", perf.First, perf.Worst, perf.Total)
	if perf.Rows != 10000 {
		t.Fatalf("unexpected call list of 10,000 calls: %v rows", perf.Rows)
	}
	if n := eval(`String(document.querySelectorAll('#list tbody tr[data-i]').length)`); len(n) > 3 {
		t.Fatalf("unexpected call list: %s rows in the DOM; want only those in sight", n)
	}
	if got := eval(fmt.Sprintf(rowAt, 9999, `tr.dataset.id + ' ' + tr.querySelector('.badge').textContent`)); got != "perf-9999@test completed" {
		t.Fatalf("unexpected last row of 10,000 calls: %q", got)
	}
	shot("calls-10000.png")

	// The call list.
	do("open the call list", chromedp.Navigate(s.url("/#calls?"+window.Encode())))
	do("search the call list", chromedp.WaitVisible(chromedp.CSS("#list.calls tbody tr")))
	if n := eval(`document.querySelector('#list').dataset.rows`); n != fmt.Sprint(len(calls)) {
		t.Fatalf("unexpected call list; got %s rows; want %d", n, len(calls))
	}
	// Every call once, in start order, with its state's badge.
	var listed []string
	callRow := -1
	for i := range len(calls) {
		id, state, _ := strings.Cut(eval(fmt.Sprintf(rowAt, i, `tr.dataset.id + ' ' + tr.querySelector('.badge.state').textContent`)), " ")
		pkts, ok := calls[id]
		if !ok || slices.Contains(listed, id) {
			t.Fatalf("unexpected row %d of the call list: %q", i, id)
		}
		if want := callflow.Summarize(pkts); state != string(want.State) {
			t.Fatalf("call %s: unexpected state badge; got %q; want %q", id, state, want.State)
		}
		if i > 0 && callflow.Summarize(pkts).StartedAt.Before(callflow.Summarize(calls[listed[i-1]]).StartedAt) {
			t.Fatalf("unexpected order of the call list: %s starts before %s", id, listed[i-1])
		}
		if id == callID {
			callRow = i
		}
		listed = append(listed, id)
	}
	eval(fmt.Sprintf(rowAt, 0, `''`))
	shot("calls.png")
	eval(fmt.Sprintf(rowAt, callRow, `''`))
	do("open the call from the call list",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#list tbody tr[data-i="%d"] td:nth-child(4)`, callRow))),
		chromedp.WaitVisible(chromedp.CSS("svg.ladder")),
	)
	checkLadder(t, ctx, callID, callPkts)
}

// tenThousandCalls replaces fetch for GET /api/v1/calls with answers of
// the contract's shape over 10,000 calls, opens the call list, clicks More
// until every call is listed, and resolves to the rows listed, the slowest
// page's time from the click to its rows and the whole time, in ms.
const tenThousandCalls = `(async () => {
	const states = ['answered', 'failed', 'cancelled', 'busy', 'no_answer', 'in_progress', 'registered', 'completed'];
	const call = (i) => ({call_id: 'perf-' + i + '@test', legs: [], method: 'INVITE', started_at: '2026-11-25T12:00:00.000000Z',
		ringing_at: null, answered_at: null, ended_at: null, state: states[i % states.length], final_status: 200 + i % 400,
		final_reason: 'Reason ' + i, from_user: 'alice' + i, to_user: 'bob' + i, ruri_user: 'bob' + i, src_ip: '10.0.0.1',
		dst_ip: '10.0.0.2', user_agent: 'perf', pdd_ms: i / 7, duration_s: i / 3, packets: 9});
	const real = window.fetch;
	window.fetch = async (path, opts) => {
		if (!String(path).startsWith('/api/v1/calls?')) return real(path, opts);
		const q = new URLSearchParams(String(path).split('?')[1]);
		const start = Number(q.get('cursor') || 0), end = Math.min(start + Number(q.get('limit')), 10000);
		const calls = [];
		for (let i = start; i < end; i++) calls.push(call(i));
		return new Response(JSON.stringify(end < 10000 ? {calls, next: String(end)} : {calls}), {headers: {'Content-Type': 'application/json'}});
	};
	const rows = () => Number((document.querySelector('#list.calls') || {dataset: {}}).dataset.rows || 0);
	const until = async (n) => {
		for (const end = performance.now() + 10000; rows() < n; await new Promise((r) => setTimeout(r, 2))) {
			if (performance.now() > end) throw new Error('the list has ' + rows() + ' rows after 10 s; want ' + n);
		}
	};
	const t0 = performance.now();
	location.hash = '#calls?from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z&limit=1000';
	await until(1000);
	let worst = performance.now() - t0; const first = worst;
	for (let n = 2000; n <= 10000; n += 1000) {
		const t = performance.now();
		document.querySelector('#more').click();
		await until(n);
		worst = Math.max(worst, performance.now() - t);
	}
	const total = performance.now() - t0;
	window.fetch = real;
	return {Rows: rows(), Worst: worst, Total: total, First: first};
})()`

// setFrom is a JavaScript function that types a time into the window's
// start as a person would and gives the window as the page shows it.
const setFrom = `((v) => {
	const f = document.querySelector('#from');
	f.value = v;
	f.dispatchEvent(new Event('input', {bubbles: true}));
	return document.querySelector('#window-shown').textContent;
})`

// rowAt is a JavaScript expression (a format of the row's index and of an
// expression of tr) that scrolls the list to a row, waits until the page
// draws it, and gives the expression's value as a string.
const rowAt = `(async () => {
	const i = %d, sc = document.querySelector('#scroller');
	const h = document.querySelector('#list tbody tr[data-i]').getBoundingClientRect().height;
	sc.scrollTop = Math.max(0, i * h - sc.clientHeight / 2);
	let tr;
	for (let n = 0; n < 100 && !(tr = document.querySelector('#list tbody tr[data-i="' + i + '"]')); n++) await new Promise((r) => setTimeout(r, 10));
	return tr ? String(%s) : 'row ' + i + ' not drawn';
})()`

// checkLadder holds the page's ladder to the call's packets: one arrow per
// packet, in order, from its source's column to its destination's,
// labelled as internal/callflow labels it; the columns are the hosts in
// the order they first appear.
func checkLadder(t *testing.T, ctx context.Context, callID string, pkts []hepvault.Packet) {
	t.Helper()
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#call-id').textContent`))
	if err != nil || shown != callID {
		t.Fatalf("unexpected call shown; got %q (%v); want %q", shown, err, callID)
	}
	hosts, err := chromedp.Run(ctx, chromedp.Evaluate[[]struct {
		Name string
		X    float64
	}](`[...document.querySelectorAll('svg.ladder text.host')].map(t => ({Name: t.textContent, X: +t.getAttribute('x')}))`))
	if err != nil {
		t.Fatal(err)
	}
	arrows, err := chromedp.Run(ctx, chromedp.Evaluate[[]arrow](`[...document.querySelectorAll('svg.ladder .msg')].map(g => {
		const l = g.querySelector('line');
		return {Src: g.dataset.src, Dst: g.dataset.dst, Label: g.querySelector('text.label').textContent,
			X1: l ? +l.getAttribute('x1') : 0, X2: l ? +l.getAttribute('x2') : 0, Loop: !l};
	})`))
	if err != nil {
		t.Fatal(err)
	}
	var wantHosts []string
	col := map[string]float64{}
	for _, h := range hosts {
		col[h.Name] = h.X
	}
	for i := range pkts {
		for _, h := range []string{netip.AddrPortFrom(pkts[i].SrcIP, pkts[i].SrcPort).String(), netip.AddrPortFrom(pkts[i].DstIP, pkts[i].DstPort).String()} {
			if !slices.Contains(wantHosts, h) {
				wantHosts = append(wantHosts, h)
			}
		}
	}
	var gotHosts []string
	for i, h := range hosts {
		gotHosts = append(gotHosts, h.Name)
		if i > 0 && h.X <= hosts[i-1].X {
			t.Fatalf("unexpected columns: %s at x=%v is not right of %s at x=%v", h.Name, h.X, hosts[i-1].Name, hosts[i-1].X)
		}
	}
	if !slices.Equal(gotHosts, wantHosts) {
		t.Fatalf("unexpected columns; got %q; want %q", gotHosts, wantHosts)
	}
	if len(arrows) != len(pkts) {
		t.Fatalf("unexpected ladder; got %d arrows; want %d", len(arrows), len(pkts))
	}
	for i := range pkts {
		p := &pkts[i]
		src, dst := netip.AddrPortFrom(p.SrcIP, p.SrcPort).String(), netip.AddrPortFrom(p.DstIP, p.DstPort).String()
		want := arrow{Src: src, Dst: dst, Label: callflow.Label(p), X1: col[src], X2: col[dst], Loop: src == dst}
		if want.Loop {
			want.X1, want.X2 = 0, 0
		}
		if arrows[i] != want {
			t.Fatalf("unexpected arrow %d; got %+v; want %+v", i, arrows[i], want)
		}
	}
}

// webGet answers path of s's HTTP server, with the test's token unless
// token is "".
func webGet(t *testing.T, s *server, path, token string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url(path), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v: %s", path, resp.Status, err, b)
	}
	return b
}

func webPackets(t *testing.T, s *server, path string) []hepvault.Packet {
	t.Helper()
	pkts, _, err := api.DecodePackets(webGet(t, s, path, webToken))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return pkts
}

// pcapFrames counts the frames of a classic pcap file, in either byte
// order, after checking its magic number.
func pcapFrames(b []byte) (int, error) {
	if len(b) < 24 {
		return 0, fmt.Errorf("%d bytes: no pcap file header", len(b))
	}
	var order binary.ByteOrder
	switch m := binary.LittleEndian.Uint32(b); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return 0, fmt.Errorf("no pcap magic number: % x", b[:4])
	}
	n := 0
	for off := 24; off < len(b); n++ {
		if off+16 > len(b) {
			return n, fmt.Errorf("frame %d: header cut at byte %d", n+1, off)
		}
		incl := int(order.Uint32(b[off+8:]))
		off += 16 + incl
		if off > len(b) {
			return n, fmt.Errorf("frame %d: data cut", n+1)
		}
	}
	return n, nil
}

func ptrTo[T any](v T) *T { return &v }

// legsFixture is the HEP of the legs capture as the collector builds it,
// and its (caller's, callee's) Call-ID pairs as tshark read them (X-CID).
func legsFixture(t *testing.T) ([]hepvault.Packet, [][2]string) {
	t.Helper()
	pkts := collected.HEP(t, fixture.LegsPcap)
	callflow.Sort(pkts)
	return pkts, collected.LegPairs(t)
}
