package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// findMax raises the rate by cfg.Step until a run loses packets, then
// bisects between the last rate held and the first lost. One run per rate:
// on a shared machine a rate near the edge may hold once and fail the next
// time, so confirm the answer with a second run.
func findMax(ctx context.Context, cfg config, w io.Writer) error {
	good, bad := 0, math.MaxInt
	rate := cfg.Rate
	var best *result
	for ctx.Err() == nil {
		r, err := measure(ctx, cfg, rate)
		if err != nil {
			return err
		}
		r.print(w)
		if r.held() {
			good, best = rate, r
		} else {
			bad = rate
		}
		resol := cfg.Resol
		if resol <= 0 {
			resol = max(100, good/20)
		}
		switch {
		case bad == math.MaxInt && good >= cfg.MaxRate:
			fmt.Fprintf(w, "held the maximum offered rate, %d/s (raise --max-rate to go further)\n", good)
			return nil
		case bad == math.MaxInt:
			rate = min(cfg.MaxRate, int(float64(rate)*cfg.Step))
		case bad-good <= resol:
			summary(w, cfg, good, bad, best)
			return nil
		default:
			rate = (good + bad) / 2
		}
		rate = roundRate(rate)
		if rate == good || rate == bad {
			summary(w, cfg, good, bad, best)
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Pause):
		}
	}
	return ctx.Err()
}

// roundRate keeps rates readable: multiples of 100 below 10k, of 500 above.
func roundRate(r int) int {
	q := 100
	if r >= 10000 {
		q = 500
	}
	return max(q, (r+q/2)/q*q)
}

func summary(w io.Writer, cfg config, good, bad int, best *result) {
	if good == 0 {
		fmt.Fprintf(w, "RESULT %s %s: no rate held; lowest tried %d/s lost packets\n", cfg.Label, cfg.Transport, bad)
		return
	}
	fmt.Fprintf(w, "RESULT %s %s: highest rate stored with 0 loss for %s: %d/s (lost at %d/s)\n", cfg.Label, cfg.Transport, cfg.Duration, good, bad)
	best.print(w)
}
