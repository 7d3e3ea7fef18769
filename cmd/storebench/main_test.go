package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/hepvault/hepvault/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// A small seed and a direct query run: the tool still works end to end.
func TestSeedThenQuery(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"seed", "-db", dsn, "-n", "3000", "-days", "1", "-batch", "1000"}, &out, &errOut); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut.String())
	}
	if got := out.String(); got == "" || !regexp.MustCompile(`stored 3000 packets`).MatchString(got) {
		t.Fatalf("unexpected seed output %q", got)
	}
	out.Reset()
	if err := run(ctx, []string{"query", "-db", dsn, "-direct", "-n", "20", "-window", "1h"}, &out, &errOut); err != nil {
		t.Fatalf("query: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`first 100 packets of a 1h0m0s window: 20 requests, ([0-9.]+) packets each`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("unexpected query output %q", out.String())
	}
	// 3000 packets over a day: about 125 an hour, so most windows fill up.
	if n, _ := strconv.ParseFloat(m[1], 64); n < 50 {
		t.Fatalf("unexpected %s packets per window; want most windows full", m[1])
	}
	if !regexp.MustCompile(`every packet of one Call-ID: 20 requests, [1-9]`).MatchString(out.String()) {
		t.Fatalf("unexpected query output %q", out.String())
	}
}
