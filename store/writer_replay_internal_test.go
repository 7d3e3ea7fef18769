package store

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/seed"
	"github.com/hepvault/hepvault/store/spool"
)

// The replayer writes a backlog only in what live traffic leaves: while
// liveBusy holds it waits, unless the database is away (it is then the
// probe that finds the database back).
func TestReplay_YieldsToLiveTraffic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := migratedDB(t)
	scfg := spool.DefaultConfig()
	scfg.Dir, scfg.Logger = t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil))
	sp, err := spool.Open(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	wcfg := DefaultWriterConfig()
	wcfg.Spool = sp
	w := NewWriter(db, wcfg)
	var busy atomic.Bool
	busy.Store(true)
	w.liveBusy = busy.Load
	pkts := seed.New(seed.Config{Seed: 11}).Packets(300)
	w.toSpool(ctx, newEncoded(pkts[:100]), spoolOverflow)
	done := make(chan struct{})
	go func() { defer close(done); w.replay(ctx) }()
	defer func() { cancel(); <-done }()

	stored := func() int {
		var n int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM packets`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	time.Sleep(300 * time.Millisecond)
	if n := stored(); n != 0 || w.replayed.Load() != 0 {
		t.Fatalf("replayed while live traffic was busy: %d stored, %d replayed", n, w.replayed.Load())
	}
	waitStored := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); stored() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("unexpected packets stored; got %d; want %d", stored(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	busy.Store(false)
	waitStored(100)

	// Busy again, but the database is away: the replayer tries at once.
	busy.Store(true)
	w.dbAway.Store(true)
	w.toSpool(ctx, newEncoded(pkts[100:]), spoolUntried)
	waitStored(300)
	if w.dbAway.Load() {
		t.Fatalf("a replayed batch did not mark the database back")
	}
}
