package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hepvault/hepvault/internal/seed"
	"github.com/hepvault/hepvault/store"
)

// runDrop measures what retention costs: it fills one past UTC day with n
// packets, then drops that day (DETACH PARTITION CONCURRENTLY, DROP TABLE:
// store.DB.DropDay) while a writer stores today's traffic at -rate, and
// reports how long the drop took and the writer's slowest batch meanwhile.
func runDrop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("drop", stderr)
	dsn := fs.String("db", "", "PostgreSQL DSN")
	n := fs.Int("n", 1000000, "packets in the day that is dropped")
	ago := fs.Int("days-ago", 30, "which day: this many days before today (UTC)")
	rate := fs.Int("rate", 10000, "packets per second the writer stores meanwhile")
	batch := fs.Int("batch", 2000, "packets per batch, seeding and meanwhile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ago < 1 || *n < 1 || *rate < 1 || *batch < 1 {
		return fmt.Errorf("drop: -n, -days-ago, -rate and -batch must be positive")
	}
	cfg := store.DefaultConfig()
	cfg.DSN = *dsn
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := store.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	now := time.Now().UTC()
	day := now.Truncate(24*time.Hour).AddDate(0, 0, -*ago)
	if _, err := db.DropDay(ctx, day, now); err != nil { // a day left by an earlier run
		return err
	}
	// Spread over most of the day, so that no dialog runs past its end.
	g := seed.New(seed.Config{Start: day, Rate: float64(*n) / (0.95 * 86400), Seed: 7})
	w := store.NewWriter(db, store.DefaultWriterConfig())
	began := time.Now()
	for done := 0; done < *n; done += *batch {
		if err := w.WriteBatch(ctx, g.Packets(min(*batch, *n-done))); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "seeded %d packets into %s in %s\n", w.Stats().Stored, day.Format(time.DateOnly), time.Since(began).Round(time.Millisecond))

	// The writer meanwhile: today's traffic, paced at -rate.
	live := seed.New(seed.Config{Start: now.Add(-time.Minute), Rate: float64(*rate), Seed: 8})
	lw := store.NewWriter(db, store.DefaultWriterConfig())
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	type span struct{ from, to time.Time }
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		batches []span
		werr    error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		every := time.Duration(float64(*batch) / float64(*rate) * float64(time.Second))
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			t0 := time.Now()
			if err := lw.WriteBatch(wctx, live.Packets(*batch)); err != nil {
				if wctx.Err() == nil {
					werr = err
				}
				return
			}
			mu.Lock()
			batches = append(batches, span{t0, time.Now()})
			mu.Unlock()
		}
	}()
	time.Sleep(time.Second) // the writer under way
	t0 := time.Now()
	found, err := db.DropDay(ctx, day, time.Now())
	t1 := time.Now()
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("drop: no partition for %s", day.Format(time.DateOnly))
	}
	if werr != nil {
		return fmt.Errorf("drop: the writer failed meanwhile: %w", werr)
	}
	var overlapping int
	var slowest, slowestOverlapping time.Duration
	for _, b := range batches {
		d := b.to.Sub(b.from)
		slowest = max(slowest, d)
		if b.from.Before(t1) && b.to.After(t0) {
			overlapping++
			slowestOverlapping = max(slowestOverlapping, d)
		}
	}
	fmt.Fprintf(stdout, "dropped %s (%d packets) in %s while a writer stored %d/s in batches of %d: %d batches overlapped the drop (slowest %s); slowest of all %d batches %s\n",
		day.Format(time.DateOnly), *n, t1.Sub(t0).Round(time.Millisecond), *rate, *batch, overlapping,
		slowestOverlapping.Round(time.Millisecond), len(batches), slowest.Round(time.Millisecond))
	return nil
}
