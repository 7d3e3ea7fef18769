package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

func TestHolds_SurviveRetention(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	now := time.Now().UTC()
	d := func(n int) time.Time {
		return now.Truncate(24 * time.Hour).Add(-time.Duration(n)*24*time.Hour + 12*time.Hour)
	}
	write(t, db,
		packet(d(10), hepvault.KindRequest, "INVITE", 0, "held-call"),
		packet(d(9), hepvault.KindRequest, "INVITE", 0, "in-held-window"),
		packet(d(8), hepvault.KindRequest, "INVITE", 0, "not-held"),
		packet(now, hepvault.KindRequest, "INVITE", 0, "today"),
	)
	byCall, err := db.AddHold(ctx, store.Hold{CreatedBy: "alice", Reason: "court order 17", CallID: "held-call", From: d(10), To: d(10).Add(time.Microsecond)})
	if err != nil {
		t.Fatal(err)
	}
	byFilter, err := db.AddHold(ctx, store.Hold{CreatedBy: "alice", Reason: "fraud case", Filter: "method=INVITE", From: d(9).Add(-time.Hour), To: d(9).Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	r := store.NewRetention(db, store.RetentionConfig{Horizon: 2 * 24 * time.Hour})
	if n, err := r.DropExpired(ctx, now); err != nil || n != 1 {
		t.Fatalf("unexpected drop; got %d days, err %v; want 1 (the day without a hold)", n, err)
	}
	if ids := callIDs(t, db); !slices.Equal(ids, []string{"held-call", "in-held-window", "today"}) {
		t.Fatalf("unexpected packets after retention; got %v; want the held days' and today's", ids)
	}
	if parts := dayPartitions(t, dsn); slices.Contains(parts, partName(d(8))) || !slices.Contains(parts, partName(d(10))) {
		t.Fatalf("unexpected partitions; got %v", parts)
	}

	// Ended, a hold keeps nothing; its row stays, with who ended it.
	ended, err := db.EndHold(ctx, byCall.ID, "bob")
	if err != nil || ended.EndedAt == nil || ended.EndedBy != "bob" {
		t.Fatalf("unexpected end of hold; got %+v, %v", ended, err)
	}
	if _, err := db.EndHold(ctx, byCall.ID, "bob"); !errors.Is(err, hepvault.ErrNotFound) {
		t.Fatalf("unexpected error ending a hold twice; got %v; want ErrNotFound", err)
	}
	if n, err := r.DropExpired(ctx, now); err != nil || n != 1 {
		t.Fatalf("unexpected drop after the hold ended; got %d, %v; want 1", n, err)
	}
	if ids := callIDs(t, db); !slices.Equal(ids, []string{"in-held-window", "today"}) {
		t.Fatalf("unexpected packets; got %v", ids)
	}
	inForce, err := db.Holds(ctx, false)
	if err != nil || len(inForce) != 1 || inForce[0].ID != byFilter.ID || inForce[0].Filter != "method=INVITE" {
		t.Fatalf("unexpected holds in force; got %+v, %v; want the filter's", inForce, err)
	}
	all, err := db.Holds(ctx, true)
	if err != nil || len(all) != 2 {
		t.Fatalf("unexpected holds; got %d, %v; want 2", len(all), err)
	}
}

func TestHolds_DiskGuardDropsHeldDaysLast(t *testing.T) {
	var logBuf bytes.Buffer
	db, dsn := openDSN(t)
	ctx := context.Background()
	now := time.Now().UTC()
	d := func(n int) time.Time {
		return now.Truncate(24 * time.Hour).Add(-time.Duration(n)*24*time.Hour + time.Hour)
	}
	write(t, db, packet(d(3), hepvault.KindRequest, "INVITE", 0, "held"), packet(d(2), hepvault.KindRequest, "INVITE", 0, "free"),
		packet(now, hepvault.KindRequest, "INVITE", 0, "today"))
	if _, err := db.AddHold(ctx, store.Hold{Reason: "r", CallID: "held", From: d(3), To: d(3).Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	// Short of space at the first measure only: one day is dropped.
	short := 1
	spool := func() int64 {
		short--
		if short >= 0 {
			return 1 << 41
		}
		return 0
	}
	r := store.NewRetention(db, store.RetentionConfig{MaxDBSize: 1 << 40, MinFreeBytes: 1 << 20, SpoolBytes: spool})
	if err := r.CheckDisk(ctx, now); err != nil {
		t.Fatal(err)
	}
	if ids := callIDs(t, db); !slices.Equal(ids, []string{"held", "today"}) {
		t.Fatalf("unexpected packets after one drop for space; got %v; want the held day kept, the newer free day dropped", ids)
	}
	// Short for good: the held day goes too, said at error level.
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	db2, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	r2 := store.NewRetention(db2, store.RetentionConfig{MaxDBSize: 1 << 40, MinFreeBytes: 1 << 20, SpoolBytes: func() int64 { return 1 << 41 }})
	if err := r2.CheckDisk(ctx, now); err != nil {
		t.Fatal(err)
	}
	if ids := callIDs(t, db); !slices.Equal(ids, []string{"today"}) {
		t.Fatalf("unexpected packets; got %v; want today's", ids)
	}
	if log := logBuf.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "legal hold") {
		t.Fatalf("no error-level log line that a held day was dropped:\n%s", log)
	}
}
