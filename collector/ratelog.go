package collector

import (
	"log/slog"
	"sync"
	"time"
)

// rateLog logs at most one line per key per interval and says how many it
// held back, so a flood of bad packets cannot flood the log.
type rateLog struct {
	log      *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	held     map[string]int
}

func newRateLog(log *slog.Logger, interval time.Duration) *rateLog {
	return &rateLog{log: log, interval: interval, last: map[string]time.Time{}, held: map[string]int{}}
}

func (r *rateLog) Warn(key, msg string, args ...any) {
	now := time.Now()
	r.mu.Lock()
	if now.Sub(r.last[key]) < r.interval {
		r.held[key]++
		r.mu.Unlock()
		return
	}
	held := r.held[key]
	r.last[key], r.held[key] = now, 0
	r.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed_since_last", held)
	}
	r.log.Warn(msg, args...)
}
