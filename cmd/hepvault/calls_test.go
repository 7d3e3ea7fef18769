package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/pcapout/pcapouttest"
	"github.com/hepvault/hepvault/store"
)

func runCallsCmd(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"calls"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// fixtureCalls reads a capture of testdata/ as import does, by Call-ID.
func fixtureCalls(t *testing.T, file string) map[string][]hepvault.Packet {
	t.Helper()
	f, err := os.Open(filepath.Join(fixture.Dir(t), file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls := map[string][]hepvault.Packet{}
	if _, err := capture.Read(f, capture.Config{}, func(p hepvault.Packet) error {
		calls[p.CallID] = append(calls[p.CallID], p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return calls
}

// TestCalls_Show imports the real captures into a running hepvault and
// asks it for every call: through the store and the API, the summary and
// the ladder must be those of the captured packets (internal/callflow's
// tests hold those to tshark's reading).
func TestCalls_Show(t *testing.T) {
	s := startTestServer(t)
	files := []string{fixture.HEP3 + ".pcap", fixture.SIPPTCPPcap}
	for _, file := range files {
		if out, errOut, err := runImportCmd(t, s.cfg.DB, filepath.Join(fixture.Dir(t), file)); err != nil {
			t.Fatalf("import %s: %v\n%s%s", file, err, out, errOut)
		}
	}
	states := map[callflow.State]int{}
	for _, file := range files {
		for id, pkts := range fixtureCalls(t, file) {
			want := callflow.Summarize(pkts)
			states[want.State]++
			out, errOut, err := runCallsCmd("show", id, "--server", s.url(""), "--json")
			if err != nil {
				t.Fatalf("calls show %s --json: %v\n%s", id, err, errOut)
			}
			var got, wantJSON map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("calls show %s --json: %v\n%s", id, err, out)
			}
			b, _ := json.Marshal(want)
			json.Unmarshal(b, &wantJSON)
			if !reflect.DeepEqual(got, wantJSON) {
				t.Fatalf("calls show %s --json: unexpected call;\ngot  %s\nwant %s", id, out, b)
			}

			out, errOut, err = runCallsCmd("show", "--server", s.url(""), id, "--width", "100")
			if err != nil {
				t.Fatalf("calls show %s: %v\n%s", id, err, errOut)
			}
			var ladder bytes.Buffer
			if err := callflow.Ladder(&ladder, pkts, callflow.LadderOptions{Width: 100}); err != nil {
				t.Fatal(err)
			}
			summary, drawing, ok := strings.Cut(out, "\n\n")
			if !ok || drawing != ladder.String() {
				t.Fatalf("calls show %s: unexpected ladder; got\n%s\nwant\n%s", id, out, ladder.String())
			}
			for _, line := range []string{"call_id      " + id + "\n", "state        " + string(want.State) + "\n"} {
				if !strings.Contains(summary, line) {
					t.Fatalf("calls show %s: summary lacks %q:\n%s", id, line, summary)
				}
			}
		}
	}
	if states[callflow.StateAnswered] == 0 || states[callflow.StateBusy] == 0 || states[callflow.StateCancelled] == 0 {
		t.Fatalf("unexpected mix of calls; got %v; want answered, busy and cancelled ones", states)
	}

	// --pcap against the real format=pcap: tshark reads back the call's
	// messages as the API lists them, one file per transport's fixture.
	for _, file := range files {
		ids := slices.Sorted(maps.Keys(fixtureCalls(t, file)))
		id := ids[len(ids)/2]
		path := filepath.Join(t.TempDir(), "call.pcap")
		if _, errOut, err := runCallsCmd("show", id, "--server", s.url(""), "--pcap", path); err != nil {
			t.Fatalf("calls show %s --pcap: %v\n%s", id, err, errOut)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(s.url("/api/v1/calls/" + url.PathEscape(id)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want, _, err := api.DecodePackets(body)
		if err != nil || len(want) == 0 {
			t.Fatalf("GET call %s: %d packets, %v", id, len(want), err)
		}
		pcapouttest.Check(t, got, want)
	}

	// A Call-ID hepvault has not seen: the API's own words.
	_, _, err := runCallsCmd("show", "no-such-call@nowhere", "--server", s.url(""))
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no packets with Call-ID no-such-call@nowhere") {
		t.Fatalf("unexpected error for an unknown call; got %v", err)
	}
}

func TestCalls_Usage(t *testing.T) {
	f := func(wantInErr string, args ...string) {
		t.Helper()
		_, _, err := runCallsCmd(args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), wantInErr) {
			t.Fatalf("calls %q: unexpected error; got %v; want a usage error saying %q", args, err, wantInErr)
		}
	}
	f("no subcommand")
	f(`unknown subcommand "lst"`, "lst")
	f("give the window with --from and --to", "list")
	f("give the window with --from and --to", "--from", "2026-11-25T12:00:00Z")
	f("--from", "list", "--from", "yesterday", "--to", "2026-11-25T12:00:00Z")
	f(`unexpected argument "x"`, "list", "--from", "2026-11-25T11:00:00Z", "--to", "2026-11-25T12:00:00Z", "x")
	f("no CALL_ID", "show")
	f("one CALL_ID at a time", "show", "a@b", "c@d")
	f("--width must be at least 40", "show", "a@b", "--width", "10")
	f("flag provided but not defined", "show", "a@b", "--color")
}

// TestCalls_Pcap checks what --pcap asks (path escaping, token) and what it
// refuses to save, against a fake API that can answer what the real one
// never does; TestCalls_Show reads a real export back with tshark.
func TestCalls_Pcap(t *testing.T) {
	capFile, err := os.ReadFile(filepath.Join(fixture.Dir(t), fixture.SIPPcap))
	if err != nil {
		t.Fatal(err)
	}
	var gotPath, gotQuery, gotAuth string
	answer := capFile
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotAuth = r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization")
		w.Write(answer)
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "call.pcap")
	_, errOut, err := runCallsCmd("show", "a/b c@host", "--server", srv.URL+"/", "--token", "s3cret", "--pcap", path)
	if err != nil {
		t.Fatalf("calls show --pcap: %v\n%s", err, errOut)
	}
	if gotPath != "/api/v1/calls/a%2Fb%20c@host" || gotQuery != "format=pcap" || gotAuth != "Bearer s3cret" {
		t.Fatalf("unexpected request; got path %s query %s auth %q", gotPath, gotQuery, gotAuth)
	}
	saved, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(saved, capFile) {
		t.Fatalf("unexpected saved file; got %d bytes (%v); want the %d bytes served", len(saved), err, len(capFile))
	}
	out, _, err := runCallsCmd("show", "x@y", "--server", srv.URL, "--pcap", "-")
	if err != nil || out != string(capFile) {
		t.Fatalf("--pcap -: unexpected output; got %d bytes, err %v; want the %d bytes served", len(out), err, len(capFile))
	}

	// A server that answers something else than a capture file: an
	// error, and no file (not even a temporary one) left behind.
	answer = []byte(`{"packets":[]}`)
	other := filepath.Join(dir, "other.pcap")
	_, _, err = runCallsCmd("show", "x@y", "--server", srv.URL, "--pcap", other)
	if err == nil || !strings.Contains(err.Error(), "not a pcap or pcapng file") {
		t.Fatalf("unexpected error for a JSON answer; got %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "call.pcap" {
		t.Fatalf("unexpected files after a failed --pcap: %v", entries)
	}
	// A directory that does not exist.
	answer = capFile
	_, _, err = runCallsCmd("show", "x@y", "--server", srv.URL, "--pcap", filepath.Join(dir, "nope", "c.pcap"))
	if err == nil || !strings.Contains(err.Error(), "--pcap") {
		t.Fatalf("unexpected error for a missing directory; got %v", err)
	}
}

// TestCalls_Help: the usage names the command.
func TestCalls_Help(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "hepvault calls show CALL_ID") {
		t.Fatalf("usage does not name calls show:\n%s", out.String())
	}
}

// TestCalls_ShowLegs asks for each leg of the real B2BUA capture: the
// summary names the other leg, --legs draws both legs' messages as one
// ladder, and --legs --pcap saves both.
func TestCalls_ShowLegs(t *testing.T) {
	s := startTestServer(t)
	pkts, pairs := legsFixture(t)
	if err := store.NewWriter(s.db, store.DefaultWriterConfig()).WriteBatch(context.Background(), pkts); err != nil {
		t.Fatal(err)
	}
	pair := pairs[0]
	var both, own []hepvault.Packet
	for _, p := range pkts {
		if p.CallID == pair[0] || p.CallID == pair[1] {
			both = append(both, p)
		}
		if p.CallID == pair[0] {
			own = append(own, p)
		}
	}
	server := "--server=" + s.url("")
	out, errOut, err := runCallsCmd("show", pair[0], server)
	if err != nil {
		t.Fatalf("calls show: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "legs         "+pair[1]+"\n") {
		t.Fatalf("calls show %s: the summary does not name leg %s:\n%s", pair[0], pair[1], out)
	}
	var ladder bytes.Buffer
	if err := callflow.Ladder(&ladder, own, callflow.LadderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "\n"+ladder.String()) {
		t.Fatalf("calls show %s: unexpected ladder without --legs; got\n%s\nwant it to end with\n%s", pair[0], out, ladder.String())
	}
	for i, id := range pair {
		out, errOut, err = runCallsCmd("show", id, "--legs", server)
		if err != nil {
			t.Fatalf("calls show --legs: %v\n%s", err, errOut)
		}
		ladder.Reset()
		if err := callflow.Ladder(&ladder, both, callflow.LadderOptions{}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out, "\n"+ladder.String()) || !strings.Contains(out, "legs         "+pair[1-i]+"\n") {
			t.Fatalf("calls show %s --legs: unexpected output; got\n%s\nwant the legs named and the ladder of both:\n%s", id, out, ladder.String())
		}
	}
	var sum callflow.Call
	out, _, err = runCallsCmd("show", pair[1], "--legs", "--json", server)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		CallID  string   `json:"call_id"`
		Legs    []string `json:"legs"`
		Packets int      `json:"packets"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	for _, p := range both {
		if p.CallID == pair[1] {
			sum.Packets++
		}
	}
	if js.CallID != pair[1] || !slices.Equal(js.Legs, []string{pair[0]}) || js.Packets != sum.Packets {
		t.Fatalf("calls show --legs --json: unexpected %+v; want call %s, legs [%s], its own %d packets", js, pair[1], pair[0], sum.Packets)
	}
	file := filepath.Join(t.TempDir(), "legs.pcap")
	if _, errOut, err := runCallsCmd("show", pair[0], "--legs", "--pcap", file, server); err != nil {
		t.Fatalf("calls show --legs --pcap: %v\n%s", err, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pcapouttest.Check(t, b, both)
}
