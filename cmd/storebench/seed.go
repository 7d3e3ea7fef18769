package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/seed"
	"github.com/hepvault/hepvault/store"
)

// runSeed writes n packets of realistic traffic spread over the last days,
// through the same Writer ingest uses, with a few writers at once.
func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("seed", stderr)
	dsn := fs.String("db", "", "PostgreSQL DSN")
	n := fs.Int("n", 1000000, "packets to write")
	days := fs.Int("days", 7, "spread them over this many days, ending now")
	writers := fs.Int("writers", 2, "concurrent writers")
	batch := fs.Int("batch", 5000, "packets per batch")
	seedN := fs.Uint64("seed", 1, "random seed")
	endS := fs.String("end", "", "end the traffic at this RFC 3339 time instead of now (2026-12-06T00:00:00Z: whole past days, which can be sealed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openMigrated(ctx, *dsn, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	span := time.Duration(*days) * 24 * time.Hour
	end := time.Now().UTC()
	if *endS != "" {
		if end, err = time.Parse(time.RFC3339, *endS); err != nil {
			return fmt.Errorf("-end: %w", err)
		}
	}
	start := end.Add(-span)
	g := seed.New(seed.Config{Start: start, Rate: float64(*n) / span.Seconds(), Seed: *seedN})
	w := store.NewWriter(db, store.DefaultWriterConfig())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []hepvault.Packet, *writers)
	errs := make(chan error, *writers)
	var wg sync.WaitGroup
	for range *writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := w.WriteBatch(ctx, b); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	began := time.Now()
produce:
	for done := 0; done < *n; done += *batch {
		select {
		case batches <- g.Packets(min(*batch, *n-done)):
		case <-ctx.Done():
			break produce
		}
		if done > 0 && done%1000000 < *batch {
			el := time.Since(began)
			fmt.Fprintf(stdout, "%d packets in %s (%.0f/s)\n", done, el.Round(time.Second), float64(done)/el.Seconds())
		}
	}
	close(batches)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	el := time.Since(began)
	fmt.Fprintf(stdout, "stored %d packets in %s (%.0f/s)\n", w.Stats().Stored, el.Round(time.Second), float64(w.Stats().Stored)/el.Seconds())
	return nil
}
