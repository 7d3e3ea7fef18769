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
