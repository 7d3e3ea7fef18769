package main

import (
	"context"
	"fmt"
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
				err := s.db.DropStatsBefore(ctx, now.Add(-s.cfg.StatsRetention))
				if err == nil {
					// The access log and the node record go with the statistics.
					err = s.db.DropAuditBefore(ctx, now.Add(-s.cfg.StatsRetention))
				}
				if err != nil {
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

// parseStatsRetention reads --stats-retention as --retention is read
// (parseHorizon), but statistics are always kept for a while: 0 is refused.
func parseStatsRetention(s string) (time.Duration, error) {
	d, err := parseHorizon(s)
	if err == nil && d == 0 {
		err = fmt.Errorf("%q: statistics are kept for a while; want e.g. 2y, 400d or 720h", s)
	}
	return d, err
}
