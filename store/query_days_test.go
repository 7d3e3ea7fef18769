package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/seed"
	"github.com/hepvault/hepvault/store"
)

// A window of several days is walked a day at a time: empty days between
// stored ones, and a filter whose matches lie on different days, still give
// every packet, in order, the limit counted across the days.
func TestQuery_WindowOverDaysWithGaps(t *testing.T) {
	db := openDB(t)
	d0 := time.Date(2026, 10, 1, 23, 59, 0, 0, time.UTC)
	var all []hepvault.Packet
	for i, start := range []time.Time{d0, d0.Add(3 * 24 * time.Hour), d0.Add(6*24*time.Hour + 30*time.Second)} {
		pkts := seed.New(seed.Config{Start: start, Rate: 20, Seed: uint64(10 + i)}).Packets(400)
		for j := range pkts {
			pkts[j].ID = int64(i*1000 + j + 1)
		}
		write(t, db, pkts...)
		all = append(all, pkts...)
	}
	slices.SortFunc(all, func(a, b hepvault.Packet) int { return a.CapturedAt.Compare(b.CapturedAt) })
	from, to := d0.Add(-time.Hour), d0.Add(8*24*time.Hour)
	for _, f := range []hepvault.Filter{
		{From: from, To: to, Limit: store.MaxLimit},
		{From: from, To: to, Limit: 450},
		{From: from, To: to, Methods: []string{"INVITE"}, Limit: store.MaxLimit},
		{From: from, To: to, Methods: []string{"INVITE"}, Limit: 70},
		{From: d0.Add(2 * 24 * time.Hour), To: to, Kinds: []hepvault.Kind{hepvault.KindResponse}, Limit: 300},
	} {
		var want []hepvault.Packet
		for _, p := range all {
			if !p.CapturedAt.Before(f.From) && p.CapturedAt.Before(f.To) &&
				(len(f.Methods) == 0 || slices.Contains(f.Methods, p.Method)) &&
				(len(f.Kinds) == 0 || slices.Contains(f.Kinds, p.Kind)) && len(want) < f.Limit {
				want = append(want, p)
			}
		}
		got, _, err := db.Packets(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("filter %+v: unexpected packets; got %d; want %d", f, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Fatalf("filter %+v: packet %d; got id %d; want %d", f, i, got[i].ID, want[i].ID)
			}
		}
	}
}
