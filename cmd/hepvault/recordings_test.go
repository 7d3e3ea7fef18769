package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
)

func runRecordingsCmd(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"recordings"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

type cliRecording struct {
	CallID          string   `json:"call_id"`
	RecordedCallIDs []string `json:"recorded_call_ids"`
	LinkedBy        string   `json:"linked_by"`
	Participants    []struct {
		AOR  string `json:"aor"`
		Name string `json:"name"`
	} `json:"participants"`
	State string `json:"state"`
}

type cliGap struct {
	CallID string `json:"call_id"`
	Reason string `json:"reason"`
}

// recordingsOf runs `hepvault recordings --json` and `recordings gaps
// --json` over the window.
func recordingsOf(t *testing.T, s *server, from, to string) ([]cliRecording, []cliGap) {
	t.Helper()
	out, errOut, err := runRecordingsCmd("--server", s.url(""), "--from", from, "--to", to, "--json")
	if err != nil {
		t.Fatalf("recordings: %v\n%s", err, errOut)
	}
	var a struct {
		Recordings []cliRecording `json:"recordings"`
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("recordings: %v\n%s", err, out)
	}
	out, errOut, err = runRecordingsCmd("gaps", "--server", s.url(""), "--from", from, "--to", to, "--json")
	if err != nil {
		t.Fatalf("recordings gaps: %v\n%s", err, errOut)
	}
	var g struct {
		Gaps []cliGap `json:"gaps"`
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("recordings gaps: %v\n%s", err, out)
	}
	return a.Recordings, g.Gaps
}

// TestRecordings_CLI imports the SIPREC capture and prints its recordings
// and gaps as a compliance officer would read them.
func TestRecordings_CLI(t *testing.T) {
	s := startTestServer(t)
	pcap := filepath.Join(fixture.Dir(t), "kamailio-siprec.pcap")
	if out, errOut, err := runImportCmd(t, s.cfg.DB, pcap); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, errOut)
	}
	msgs := fixture.LoadTSV(t, "kamailio-siprec.pcap")
	from := msgs[0].Time.Add(-time.Second).Format(time.RFC3339Nano)
	to := msgs[len(msgs)-1].Time.Add(time.Second).Format(time.RFC3339Nano)

	recs, gaps := recordingsOf(t, s, from, to)
	if len(recs) != 3 || len(gaps) != 2 {
		t.Fatalf("unexpected answer: %d recordings, %d gaps; want 3 and 2", len(recs), len(gaps))
	}
	text, errOut, err := runRecordingsCmd("list", "--server", s.url(""), "--from", from, "--to", to)
	if err != nil {
		t.Fatalf("recordings list: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "STARTED_AT") {
		t.Fatalf("unexpected table: want a header and 3 lines:\n%s", text)
	}
	for i, r := range recs {
		line := lines[i+1]
		for _, want := range []string{r.CallID, r.RecordedCallIDs[0] + " (" + r.LinkedBy + ")", "Supervisor <sip:supervisor@127.0.0.1>", "1,2,3", " ended "} {
			if !strings.Contains(line, want) {
				t.Fatalf("recording %s: line %q lacks %q", r.CallID, line, want)
			}
		}
	}
	t.Logf("hepvault recordings:\n%s", text)
	text, errOut, err = runRecordingsCmd("gaps", "--server", s.url(""), "--from", from, "--to", to)
	if err != nil {
		t.Fatalf("recordings gaps: %v\n%s", err, errOut)
	}
	for _, g := range gaps {
		if !strings.Contains(text, g.CallID) || !strings.Contains(text, g.Reason) {
			t.Fatalf("gap %s %s not in the table:\n%s", g.CallID, g.Reason, text)
		}
	}
	if !strings.Contains(text, "2 calls not recorded to their end") {
		t.Fatalf("unexpected gaps table:\n%s", text)
	}
	t.Logf("hepvault recordings gaps:\n%s", text)

	if _, _, err := runRecordingsCmd("gaps", "--server", s.url(""), "--from", from); err == nil {
		t.Fatal("recordings gaps without --to: no error")
	}
	if _, _, err := runRecordingsCmd("play"); err == nil {
		t.Fatal("recordings play: no error")
	}
}
