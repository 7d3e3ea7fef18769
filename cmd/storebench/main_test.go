package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
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
	for _, re := range []string{
		`every packet of one Call-ID: 20 requests, [1-9]`,
		`first 100 INVITE calls of a 1h0m0s window: 20 requests, [1-9]`,
		`the calls of one number over the span \(first 100\): 20 requests, [1-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Fatalf("unexpected query output %q; want it to match %s", out.String(), re)
		}
	}
}

// A small drop run: the day is filled, then dropped while the writer runs.
func TestDrop(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"drop", "-db", dsn, "-n", "20000", "-rate", "2000", "-batch", "500"}, &out, &errOut); err != nil {
		t.Fatalf("drop: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`dropped \S+ \(20000 packets\) in (\S+) while a writer stored 2000/s in batches of 500: ([0-9]+) batches overlapped`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("unexpected drop output %q", out.String())
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var old, today int
	err = conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE first_at < now() - interval '2 days'),
		count(*) FILTER (WHERE first_at >= now() - interval '2 days') FROM packet_blocks`).Scan(&old, &today)
	if err != nil {
		t.Fatal(err)
	}
	if old != 0 || today == 0 {
		t.Fatalf("unexpected blocks after the drop; got %d of the dropped day, %d of today; want 0, some", old, today)
	}
}
