package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// defaultStatsRetention is how long statistics are kept: far longer than
// packets, as they cost a few kilobytes a minute.
const defaultStatsRetention = "2y"

// keepStats folds the statistics of closed minutes every minute and drops
// those older than the retention at start and every hour after.
func (s *server) keepStats(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var dropped time.Time // last drop; zero: not yet
	now := time.Now()
	for {
		if s.db.Ready() { // else awaitDatabase is still waiting: try next minute
			if dropped.IsZero() || now.Sub(dropped) >= time.Hour {
				if err := s.db.DropStatsBefore(ctx, now.Add(-s.cfg.StatsRetention)); err != nil {
					if ctx.Err() != nil {
						return
					}
					s.log.Warn("could not delete old statistics", "err", err)
				} else {
					dropped = now
				}
			}
			if err := s.db.FoldStats(ctx, now); err != nil && ctx.Err() == nil {
				s.log.Warn("could not fold statistics", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
	}
}

// parseRetention reads a whole number of days or years ("90d", "2y"; a
// year is 365 days) or what time.ParseDuration reads ("720h").
func parseRetention(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"y", 365 * 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseUint(num, 10, 32)
			if err != nil || n == 0 || n > 100*uint64(365*24*time.Hour/u.unit) {
				break
			}
			return time.Duration(n) * u.unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration: write it as 2y, 90d or 720h", s)
	}
	return d, nil
}
