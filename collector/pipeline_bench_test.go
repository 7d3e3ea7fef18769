package collector

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/loadgen"
)

// benchPackets are HEPv3 packets to cycle through: the real Kamailio
// capture, or hepbench's traffic mix.
func kamailioPackets(b *testing.B) [][]byte {
	var grams [][]byte
	for _, r := range fixture.Load(b, fixture.HEP3) {
		grams = append(grams, r.Datagram)
	}
	return grams
}

func loadgenPackets(n int) [][]byte {
	g := loadgen.NewGenerator(loadgen.Config{RunID: "bench", CaptureID: 1, Seed: 1})
	grams := make([][]byte, n)
	now := time.Now()
	for i := range grams {
		grams[i], _ = g.Next(nil, now)
	}
	return grams
}

func meanLen(grams [][]byte) int64 {
	n := 0
	for _, g := range grams {
		n += len(g)
	}
	return int64(n / len(grams))
}

// benchDecodeParseBuild is the per-message work of a reader, on one core:
// HEP decode, SIP parse and classification, and the Packet that owns its
// bytes, without the queue.
func benchDecodeParseBuild(b *testing.B, grams [][]byte) {
	b.SetBytes(meanLen(grams))
	b.ReportAllocs()
	var (
		dec hep.Decoder
		hp  hep.Packet
		msg sip.Message
	)
	recv := time.Now()
	i := 0
	for b.Loop() {
		if err := dec.Decode(grams[i], &hp); err != nil {
			b.Fatal(err)
		}
		perr := sip.Parse(hp.Payload, &msg)
		p := build(&hp, &msg, perr, recv, int64(i))
		if p.Kind == 0 {
			b.Fatalf("packet %d did not classify: %v", i, perr)
		}
		if i++; i == len(grams) {
			i = 0
		}
	}
}

func BenchmarkDecodeParseBuild_Kamailio(b *testing.B) { benchDecodeParseBuild(b, kamailioPackets(b)) }

func BenchmarkDecodeParseBuild_Loadgen(b *testing.B) { benchDecodeParseBuild(b, loadgenPackets(4096)) }

// BenchmarkHandle is a reader's whole cost per packet after the socket:
// worker.handle with its counters, the ID, and the hand-off to the queue,
// drained by another goroutine as the writer would; the counts a worker
// keeps to itself are flushed every udpBatch packets, as a UDP reader
// flushes after each read of up to udpBatch datagrams.
func BenchmarkHandle(b *testing.B) {
	grams := loadgenPackets(4096)
	c := New(Config{QueueSize: 1 << 16, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	done := make(chan struct{})
	go func() {
		for range c.queue {
		}
		close(done)
	}()
	w := &worker{c: c}
	b.SetBytes(meanLen(grams))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.handle(grams[i], time.Now())
		if i++; i == len(grams) {
			i = 0
		}
		if i%udpBatch == 0 {
			w.flush() // as a UDP reader does after each batch read
		}
	}
	b.StopTimer()
	close(c.queue)
	<-done
	if d := c.metrics.DroppedTotal(); d > 0 {
		b.Logf("%d packets dropped (queue full): the drain could not keep up", d)
	}
}
