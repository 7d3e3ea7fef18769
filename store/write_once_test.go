package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

func TestWriteBatchOnce_StoresEachPacketOnce(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	w := store.NewWriter(db, store.DefaultWriterConfig())
	now := time.Now().UTC().Truncate(time.Microsecond)
	var pkts []hepvault.Packet
	for i := range 5 {
		pkts = append(pkts, packet(now.Add(time.Duration(i)*time.Millisecond), hepvault.KindRequest, "OPTIONS", 0, "call-once"))
	}
	if err := w.WriteBatch(ctx, pkts[:3]); err != nil {
		t.Fatal(err)
	}
	// The first three again, as after a write whose outcome was unknown,
	// together with two new ones.
	n, err := w.WriteBatchOnce(ctx, pkts)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("unexpected new packets; got %d; want 2", n)
	}
	if n, err = w.WriteBatchOnce(ctx, pkts); err != nil || n != 0 {
		t.Fatalf("unexpected second replay; got %d new, err %v; want 0, nil", n, err)
	}
	got, _, err := db.Packets(ctx, hepvault.Filter{CallID: "call-once", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pkts) {
		t.Fatalf("unexpected stored packets; got %d; want %d", len(got), len(pkts))
	}
	for i := range got {
		if got[i].ID != pkts[i].ID {
			t.Fatalf("packet %d: unexpected id %d; want %d", i, got[i].ID, pkts[i].ID)
		}
	}
	if s := w.Stats().Stored; s != 5 {
		t.Fatalf("unexpected stored counter; got %d; want 5", s)
	}
}

// Two different packets with the same id in the same microsecond (ids
// repeat across hepvault processes) would share a block key: the second is
// counted as rejected, not lost silently.
func TestWriteBatch_BlockKeyTakenIsCounted(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	w := store.NewWriter(db, store.DefaultWriterConfig())
	at := time.Now().UTC().Truncate(time.Microsecond)
	a := packet(at.Add(100), hepvault.KindRequest, "OPTIONS", 0, "call-key-a")
	b := packet(at.Add(500), hepvault.KindRequest, "OPTIONS", 0, "call-key-b")
	b.ID = a.ID
	if err := w.WriteBatch(ctx, []hepvault.Packet{a}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBatch(ctx, []hepvault.Packet{b}); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Stored != 1 || s.Rejected != 1 {
		t.Fatalf("unexpected counters; got stored %d, rejected %d; want 1, 1", s.Stored, s.Rejected)
	}
}
