package main

import (
	"context"
	"fmt"
	"io"
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
	db, now, day, err := seededPastDay(ctx, *dsn, *ago, *n, *batch, stdout, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	var found bool
	m, err := whileWriting(ctx, db, now, *rate, *batch, func() (err error) {
		found, err = db.DropDay(ctx, day, time.Now())
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("drop: no partition for %s", day.Format(time.DateOnly))
	}
	fmt.Fprintf(stdout, "dropped %s (%d packets) in %s while a writer stored %d/s in batches of %d: %s\n",
		day.Format(time.DateOnly), *n, m.took.Round(time.Millisecond), *rate, *batch, m)
	return nil
}

// seededPastDay opens and migrates the database at dsn and fills the UTC
// day ago days before today with n packets (seedDay), after dropping what
// an earlier run left in it; now is when it started.
func seededPastDay(ctx context.Context, dsn string, ago, n, batch int, stdout, stderr io.Writer) (db *store.DB, now, day time.Time, err error) {
	if db, err = openMigrated(ctx, dsn, stderr); err != nil {
		return nil, now, day, err
	}
	now = time.Now().UTC()
	day = now.Truncate(24*time.Hour).AddDate(0, 0, -ago)
	if _, err = db.DropDay(ctx, day, now); err == nil {
		err = seedDay(ctx, db, day, n, batch, stdout)
	}
	if err != nil {
		db.Close()
		return nil, now, day, err
	}
	return db, now, day, nil
}

// seedDay writes n packets of realistic traffic into day, spread over most
// of it, so that no dialog runs past its end.
func seedDay(ctx context.Context, db *store.DB, day time.Time, n, batch int, stdout io.Writer) error {
	g := seed.New(seed.Config{Start: day, Rate: float64(n) / (0.95 * 86400), Seed: 7})
	w := store.NewWriter(db, store.DefaultWriterConfig())
	began := time.Now()
	for done := 0; done < n; done += batch {
		if err := w.WriteBatch(ctx, g.Packets(min(batch, n-done))); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "seeded %d packets into %s in %s\n", w.Stats().Stored, day.Format(time.DateOnly), time.Since(began).Round(time.Millisecond))
	return nil
}

// meanwhile is what a writer storing today's traffic saw while an action ran.
type meanwhile struct {
	took                        time.Duration // the action
	batches, overlapping        int
	slowest, slowestOverlapping time.Duration
}

func (m meanwhile) String() string {
	return fmt.Sprintf("%d batches overlapped it (slowest %s); slowest of all %d batches %s",
		m.overlapping, m.slowestOverlapping.Round(time.Millisecond), m.batches, m.slowest.Round(time.Millisecond))
}

// whileWriting runs action while a writer stores today's traffic at rate
// packets a second, from a second before it to a second after, and times
// both.
func whileWriting(ctx context.Context, db *store.DB, now time.Time, rate, batch int, action func() error) (meanwhile, error) {
	live := seed.New(seed.Config{Start: now.Add(-time.Minute), Rate: float64(rate), Seed: 8})
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
		every := time.Duration(float64(batch) / float64(rate) * float64(time.Second))
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			t0 := time.Now()
			if err := lw.WriteBatch(wctx, live.Packets(batch)); err != nil {
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
	err := action()
	t1 := time.Now()
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	if err != nil {
		return meanwhile{}, err
	}
	if werr != nil {
		return meanwhile{}, fmt.Errorf("the writer failed meanwhile: %w", werr)
	}
	m := meanwhile{took: t1.Sub(t0), batches: len(batches)}
	for _, b := range batches {
		d := b.to.Sub(b.from)
		m.slowest = max(m.slowest, d)
		if b.from.Before(t1) && b.to.After(t0) {
			m.overlapping++
			m.slowestOverlapping = max(m.slowestOverlapping, d)
		}
	}
	return m, nil
}
