package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hepvault/hepvault/store/storetest"
)

// lockedBuffer is a bytes.Buffer the logger writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogFormat_JSON runs migrate with --log-format json and serve with
// HEPVAULT_LOG_FORMAT=json: every line each logs is a JSON object with a
// time, a level and a message.
func TestLogFormat_JSON(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	checkLines := func(what, out string, wantMsg string) {
		t.Helper()
		found := false
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: log line is not JSON: %v\n%s", what, err, line)
			}
			if rec["level"] == nil || rec["msg"] == nil || rec["time"] == nil {
				t.Fatalf("%s: log line lacks time, level or msg: %s", what, line)
			}
			found = found || rec["msg"] == wantMsg
		}
		if !found {
			t.Fatalf("%s: no line with msg %q in:\n%s", what, wantMsg, out)
		}
	}

	// A fresh database: migrate logs each migration it applies, then says
	// how many on a line of its own, not a log line.
	var migrateLogs bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--db", dsn, "--log-format", "json"}, func(string) string { return "" }, io.Discard, &migrateLogs); err != nil {
		t.Fatalf("migrate: %v\n%s", err, migrateLogs.String())
	}
	out := strings.TrimSpace(migrateLogs.String())
	last := strings.LastIndex(out, "\n")
	if last < 0 || !strings.HasPrefix(out[last+1:], "applied ") {
		t.Fatalf("unexpected migrate output:\n%s", out)
	}
	checkLines("migrate", out[:last], "migration applied")

	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := map[string]string{"HEPVAULT_LOG_FORMAT": "json"}
	go func() {
		done <- run(ctx, []string{"serve", "--db", dsn, "--hep-udp", "127.0.0.1:0", "--hep-tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
			"--spool-dir", t.TempDir()}, func(k string) string { return env[k] }, io.Discard, &logs)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), `"msg":"hepvault is running"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not say it runs, in JSON:\n%s", logs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	checkLines("serve", logs.String(), "stopped")

}

func TestLogFormat_Failure(t *testing.T) {
	f := func(args []string, env map[string]string) {
		t.Helper()
		err := run(context.Background(), args, func(k string) string { return env[k] }, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--log-format") {
			t.Fatalf("%v %v: unexpected error %v; want a usage error about --log-format", args, env, err)
		}
	}
	f([]string{"serve", "--log-format", "xml"}, nil)
	f([]string{"serve"}, map[string]string{"HEPVAULT_LOG_FORMAT": "logfmt"})
	f([]string{"import", "--log-format", "yaml", "capture.pcap"}, nil)
	f([]string{"migrate", "--db", "postgres://127.0.0.1:1/x", "--log-format", "xml"}, nil)
}
