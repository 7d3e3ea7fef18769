package seed

import (
	"strconv"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
)

// The traffic must be what the storage figures claim: valid SIP, in capture
// order, about 430 bytes a message, several messages per Call-ID.
func TestGenerator(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	g := New(Config{Start: start, Rate: 50, Seed: 1})
	const n = 20000
	var total int
	calls := map[string]int{}
	kinds := map[string]int{}
	prev := start
	for i := 0; i < n; i++ {
		p := g.Next()
		if p.Kind == hepvault.KindInvalid {
			t.Fatalf("unexpected invalid message %d: %s\n%s", i, p.InvalidReason, p.Raw)
		}
		if p.CapturedAt.Before(prev) {
			t.Fatalf("unexpected capture time %v before %v", p.CapturedAt, prev)
		}
		if p.CallID == "" || p.FromTag == "" || p.ViaBranch == "" || p.CSeqMethod == "" {
			t.Fatalf("unexpected missing header in\n%s", p.Raw)
		}
		prev = p.CapturedAt
		total += len(p.Raw)
		calls[p.CallID]++
		kinds[p.Method+strconv.Itoa(p.StatusCode)]++
	}
	avg := total / n
	if avg < 400 || avg > 480 {
		t.Errorf("unexpected mean SIP size %d; want about 430", avg)
	}
	if per := float64(n) / float64(len(calls)); per < 3 || per > 12 {
		t.Errorf("unexpected %.1f messages per Call-ID", per)
	}
	span := prev.Sub(start).Seconds()
	if rate := n / span; rate < 40 || rate > 60 {
		t.Errorf("unexpected rate %.0f/s; want about 50", rate)
	}
	t.Logf("mean size %d, %d Call-IDs, kinds %v", avg, len(calls), kinds)
}
