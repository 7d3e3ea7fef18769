package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hepvault/hepvault/store"
)

// runSeal seals every day of a seeded store that has ended (no grace), and
// then verifies them, timing both: issue 13's targets are a million packets
// a second for each.
func runSeal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("seal", stderr)
	dsn := fs.String("db", "", "PostgreSQL DSN")
	verifyOnly := fs.Bool("verify-only", false, "only verify (the days were sealed before)")
	readers := fs.Int("readers", 0, "connections that read a day at once when sealing (0: one per core, at most 4; hepvault serve seals with 1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openMigrated(ctx, *dsn, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if !*verifyOnly {
		began := time.Now()
		seals, err := db.SealDays(ctx, time.Now(), store.SealConfig{Readers: *readers})
		if err != nil {
			return err
		}
		el := time.Since(began)
		var n int64
		for _, s := range seals {
			n += s.Count
		}
		fmt.Fprintf(stdout, "sealed %d days, %d packets in %.2f s (%.0f packets/s)\n", len(seals), n, el.Seconds(), float64(n)/el.Seconds())
	}
	began := time.Now()
	rep, err := db.Verify(ctx, store.VerifyOptions{})
	if err != nil {
		return err
	}
	el := time.Since(began)
	fmt.Fprintf(stdout, "verified %d days (%d sealed), %d packets in %.2f s (%.0f packets/s), %d differences\n",
		rep.Days, rep.SealedDays, rep.Packets, el.Seconds(), float64(rep.Packets)/el.Seconds(), len(rep.Differences))
	return nil
}
