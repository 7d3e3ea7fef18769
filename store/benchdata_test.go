package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/loadgen"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
)

// benchDB returns a migrated store on a fresh database, and its DSN.
func benchDB(b *testing.B) (*store.DB, string) {
	b.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = storetest.NewDatabase(b)
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return db, cfg.DSN
}

// realisticPackets turns n messages (Call-IDs starting with runID) of hepbench's traffic mix into Packets
// as the collector stores them, captured from start one every step.
func realisticPackets(b *testing.B, runID string, n int, start time.Time, step time.Duration) []hepvault.Packet {
	b.Helper()
	g := loadgen.NewGenerator(loadgen.Config{RunID: runID, CaptureID: 4242, Seed: 7})
	var (
		dec hep.Decoder
		hp  hep.Packet
		m   sip.Message
		buf []byte
	)
	pkts := make([]hepvault.Packet, n)
	for i := range pkts {
		at := start.Add(time.Duration(i) * step)
		buf, _ = g.Next(buf[:0], at)
		if err := dec.Decode(buf, &hp); err != nil {
			b.Fatal(err)
		}
		if err := sip.Parse(hp.Payload, &m); err != nil {
			b.Fatal(err)
		}
		pkts[i] = collector.Build(&hp, &m, nil, at, int64(i+1))
	}
	return pkts
}

func rawBytes(pkts []hepvault.Packet) int64 {
	var n int64
	for i := range pkts {
		n += int64(len(pkts[i].Raw))
	}
	return n
}
