package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/livetest"
)

// TestWeb_Recording opens calls of the SIPREC capture in the browser: a
// recorded call shows its recording beside the ladder (participants as the
// metadata gives them, the streams' labels, the recording's Call-ID as a
// link that opens the recording session); the unrecorded call says so.
func TestWeb_Recording(t *testing.T) {
	chrome := livetest.RequireProgram(t, "chromium", "chromium", "chromium-browser", "google-chrome")
	s := startTestServer(t)
	pcap := filepath.Join(fixture.Dir(t), "kamailio-siprec.pcap")
	if out, errOut, err := runImportCmd(t, s.cfg.DB, pcap); err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, errOut)
	}
	msgs := fixture.LoadTSV(t, "kamailio-siprec.pcap")
	recs, gaps := recordingsOf(t, s, msgs[0].Time.Add(-time.Second).Format(time.RFC3339Nano),
		msgs[len(msgs)-1].Time.Add(time.Second).Format(time.RFC3339Nano))
	var rec cliRecording
	for _, r := range recs {
		if r.LinkedBy == "call_id" {
			rec = r
		}
	}
	var unrecorded string
	for _, g := range gaps {
		if g.Reason == "unrecorded" {
			unrecorded = g.CallID
		}
	}
	if rec.CallID == "" || unrecorded == "" {
		t.Fatalf("unexpected fixture: recordings %+v, gaps %+v", recs, gaps)
	}
	shots := os.Getenv(ScreenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	}

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
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}

	recorded := rec.RecordedCallIDs[0]
	do("open the recorded call",
		chromedp.Navigate(s.url("/#call?id="+recorded)),
		chromedp.WaitVisible(chromedp.CSS("#recording .participants li")),
	)
	aside := text("#recording")
	for _, p := range rec.Participants {
		if !strings.Contains(aside, p.AOR) || !strings.Contains(aside, p.Name) {
			t.Fatalf("participant %s (%s) not shown beside the ladder:\n%s", p.Name, p.AOR, aside)
		}
	}
	if labels := text("#recording .streams"); !strings.Contains(labels, "label 1") || !strings.Contains(labels, "label 3") {
		t.Fatalf("unexpected streams shown: %q", labels)
	}
	if b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(shots, "call-recording.png"), b, 0o644)
	}
	do("follow the recording's Call-ID",
		chromedp.Click(chromedp.CSS("#recording .rec-call a")),
		chromedp.WaitVisible(chromedp.CSS("#recording .rec")),
	)
	if id := text("#call-id"); id != rec.CallID {
		t.Fatalf("unexpected call opened from the recording link; got %q; want %q", id, rec.CallID)
	}
	if got := text("#recording h3"); !strings.Contains(got, "Recording session") || !strings.Contains(text("#recording"), recorded) {
		t.Fatalf("the recording session does not say what it records: %q", text("#recording"))
	}
	do("open the unrecorded call",
		chromedp.Navigate(s.url("/#call?id="+unrecorded)),
		chromedp.WaitVisible(chromedp.CSS("#not-recorded")),
	)
}
