package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store/storetest"
)

// TestHolds_SurviveRetention: two captured days; an admin holds a call of
// the older one through hepvault holds, with a token made by hepvault token
// new; serve with a retention of a day then drops the other day only, the
// access log names who held what, and once the hold ends its day goes too.
func TestHolds_SurviveRetention(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	dir := fixture.Dir(t)
	if _, errOut, err := runImportCmd(t, dsn, filepath.Join(dir, fixture.HEP3+".pcap"), filepath.Join(dir, fixture.SIPPTCPPcap)); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	held := fixture.Load(t, fixture.HEP3)
	heldDay := time.Unix(int64(held[0].Truth.TsSec), 0).UTC().Format("2006-01-02")
	inHeldDay := sqlCount(t, dsn, `SELECT count(*) FROM packets WHERE captured_at::date = $1::date`, heldDay)
	total := storedInDB(t, dsn)
	if inHeldDay == 0 || inHeldDay == total {
		t.Fatalf("the fixtures do not fall on two days: %d of %d on %s", inHeldDay, total, heldDay)
	}

	// Tokens as an operator makes them.
	tokens := map[string]string{}
	var file bytes.Buffer
	for _, nr := range [][2]string{{"auditor", "admin"}, {"reader", "read"}} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"token", "new", nr[0], nr[1]}, func(string) string { return "" }, &out, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "token: ") || !strings.HasPrefix(lines[1], "line:  "+nr[0]+" "+nr[1]+" ") {
			t.Fatalf("unexpected token new output:\n%s", out.String())
		}
		tokens[nr[0]] = strings.TrimPrefix(lines[0], "token: ")
		file.WriteString(strings.TrimPrefix(lines[1], "line:  ") + "\n")
	}
	tokensFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokensFile, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(horizon time.Duration) *server {
		cfg := serveConfig{
			DB: dsn, HEPUDP: "", HEPTCP: "", HTTP: "127.0.0.1:0", ShutdownTimeout: 20 * time.Second,
			Guard: guardConfig{APITokens: tokensFile}, Retention: retentionConfig{Horizon: horizon},
		}
		s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cli := func(s *server, who string, args ...string) (string, error) {
		var out bytes.Buffer
		env := func(name string) string {
			if name == "HEPVAULT_API_TOKEN" {
				return tokens[who]
			}
			return ""
		}
		err := run(context.Background(), append(args, "--server", s.url("")), env, &out, &bytes.Buffer{})
		return out.String(), err
	}

	s := serve(0)
	if _, err := cli(s, "reader", "holds", "add", "--call-id", held[0].Truth.CallID, "--reason", "case 42"); err == nil || !strings.Contains(err.Error(), "needs a token with the admin role") {
		t.Fatalf("unexpected answer to a reader's hold; got %v; want a refusal naming the admin role", err)
	}
	start := time.Now()
	out, err := cli(s, "auditor", "holds", "add", "--call-id", held[0].Truth.CallID, "--reason", "case 42")
	if err != nil || !strings.Contains(out, `"created_by":"auditor"`) {
		t.Fatalf("holds add: %v\n%s", err, out)
	}
	if err := s.shutdown(); err != nil {
		t.Fatal(err)
	}

	s = serve(24 * time.Hour) // drops the days past it at start
	defer s.shutdown()
	waitUntil(t, 10*time.Second, "the day without a hold dropped", func() bool { return storedInDB(t, dsn) == inHeldDay })
	if got := sqlCount(t, dsn, `SELECT count(*) FROM packets WHERE call_id = $1`, held[0].Truth.CallID); got == 0 {
		t.Fatal("the held call's packets are gone")
	}
	out, err = cli(s, "auditor", "holds", "list")
	if err != nil || !strings.Contains(out, "case 42") || !strings.Contains(out, "call_id="+held[0].Truth.CallID) {
		t.Fatalf("holds list: %v\n%s", err, out)
	}
	out, err = cli(s, "auditor", "access-log", "--from", start.Add(-time.Second).UTC().Format(time.RFC3339Nano), "--to", time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano))
	if err != nil || !strings.Contains(out, "auditor") || !strings.Contains(out, "POST /api/v1/holds") || !strings.Contains(out, "reason=case+42") {
		t.Fatalf("access-log: %v\n%s", err, out)
	}
	if _, err := cli(s, "reader", "access-log", "--from", "0", "--to", "1"); err == nil || !strings.Contains(err.Error(), "admin role") {
		t.Fatalf("unexpected answer to a reader's access-log; got %v", err)
	}

	if out, err := cli(s, "auditor", "holds", "end", "1"); err != nil || !strings.Contains(out, `"ended_by":"auditor"`) {
		t.Fatalf("holds end: %v\n%s", err, out)
	}
	if n, err := s.retention.DropExpired(context.Background(), time.Now()); err != nil || n != 1 {
		t.Fatalf("unexpected drop once the hold ended; got %d days, %v; want 1", n, err)
	}
	if got := storedInDB(t, dsn); got != 0 {
		t.Fatalf("unexpected packets left; got %d; want 0", got)
	}
}
