package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

// splitBatch is a batch large enough for WriteBatch to split into parts.
func splitBatch(callID string, n int) []hepvault.Packet {
	now := time.Now().UTC().Truncate(time.Microsecond)
	pkts := make([]hepvault.Packet, n)
	for i := range pkts {
		pkts[i] = packet(now.Add(time.Duration(i)*time.Microsecond), hepvault.KindRequest, "OPTIONS", 0, callID)
	}
	return pkts
}

func storedCount(t *testing.T, db *store.DB, callID string) int {
	t.Helper()
	got, _, err := db.Packets(context.Background(), hepvault.Filter{CallID: callID, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, p := range got {
		if seen[p.ID] {
			t.Fatalf("packet %d stored twice", p.ID)
		}
		seen[p.ID] = true
	}
	return len(got)
}

func TestWriteBatch_SplitStoresEveryPacketOnce(t *testing.T) {
	db := openDB(t)
	cfg := store.DefaultWriterConfig()
	cfg.CopyParts = 4
	w := store.NewWriter(db, cfg)
	pkts := splitBatch("call-split", 1003) // parts of unequal size
	if err := w.WriteBatch(context.Background(), pkts); err != nil {
		t.Fatal(err)
	}
	if n := storedCount(t, db, "call-split"); n != len(pkts) {
		t.Fatalf("unexpected stored packets; got %d; want %d", n, len(pkts))
	}
	if s := w.Stats(); s.Stored != uint64(len(pkts)) || s.Batches != 1 {
		t.Fatalf("unexpected stats; got stored %d, batches %d; want %d, 1", s.Stored, s.Batches, len(pkts))
	}
}

// One part of a split batch fails (its packets are stored already) while
// the other commits: WriteBatch returns the error and counts the part that
// committed.
func TestWriteBatch_SplitPartFailsOthersCount(t *testing.T) {
	db := openDB(t)
	pkts := splitBatch("call-part", 600)
	half := len(pkts) / 2
	write(t, db, pkts[half:]...)
	cfg := store.DefaultWriterConfig()
	cfg.CopyParts = 2
	w := store.NewWriter(db, cfg)
	if err := w.WriteBatch(context.Background(), pkts); err == nil {
		t.Fatal("WriteBatch of a batch whose second half is stored: no error; want a unique violation")
	}
	if s := w.Stats().Stored; s != uint64(half) {
		t.Fatalf("unexpected stored counter; got %d; want %d (the first part)", s, half)
	}
	if n := storedCount(t, db, "call-part"); n != len(pkts) {
		t.Fatalf("unexpected stored packets; got %d; want %d", n, len(pkts))
	}
}

// The writer's retry path completes a batch whose one half is stored
// already (as after a split write that failed in one part): every packet
// once, the new half counted as stored, none counted as refused.
func TestWriter_SplitBatchHalfStoredCompletedOnce(t *testing.T) {
	db := openDB(t)
	pkts := splitBatch("call-half", 600)
	half := len(pkts) / 2
	write(t, db, pkts[half:]...)

	cfg := store.DefaultWriterConfig()
	cfg.BatchSize = len(pkts) // one flush, split in two
	cfg.CopyParts = 2
	w := store.NewWriter(db, cfg)
	in := make(chan hepvault.Packet, len(pkts))
	for _, p := range pkts {
		in <- p
	}
	close(in)
	if err := w.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if n := storedCount(t, db, "call-half"); n != len(pkts) {
		t.Fatalf("unexpected stored packets; got %d; want %d", n, len(pkts))
	}
	if s := w.Stats(); s.Stored != uint64(half) || s.Rejected != 0 {
		t.Fatalf("unexpected stats; got stored %d, rejected %d; want %d, 0", s.Stored, s.Rejected, half)
	}
}
