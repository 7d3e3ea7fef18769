// Package seed generates realistic SIP traffic as a Kamailio proxy's siptrace
// mirrors it (both legs of each call, the proxy's own replies), for
// measuring storage and queries: calls answered, busy, not found and
// cancelled, a few refused by the gateway (503), registrations with a digest challenge, keepalive OPTIONS. Call-IDs,
// tags, branches, numbers and addresses vary; messages come out in capture
// time order. The mix averages about 430 bytes of SIP per message.
//
// It is deterministic for a given Config, so two runs store the same bytes.
package seed

import (
	"container/heap"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// Config says what traffic to make.
type Config struct {
	Start time.Time // capture time of the first message
	Rate  float64   // messages per second of capture time, on average
	Seed  uint64
}

// Generator makes the messages of overlapping dialogs in capture-time order.
// It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	pending msgHeap
	next    time.Time // start of the next dialog
	seq     uint64
	id      int64 // the last packet's
	msg     sip.Message
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	if cfg.Rate <= 0 {
		cfg.Rate = 1000
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	return &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5e3d)), next: cfg.Start}
}

// message is one rendered SIP message waiting for its capture time.
type message struct {
	at       time.Time
	order    uint64 // ties keep the order a dialog made them in
	src, dst netip.AddrPort
	tcp      bool
	raw      []byte
}

// NextHEP fills hp with the next message's envelope and payload, as a
// Kamailio HEPv3 agent would send it.
func (g *Generator) NextHEP(hp *hep.Packet) {
	for len(g.pending) == 0 || !g.pending[0].at.Before(g.next) {
		g.startDialog()
	}
	m := heap.Pop(&g.pending).(*message)
	*hp = hep.Packet{
		Version: 3, Family: hep.FamilyIPv4, Proto: 17, ProtoType: hep.ProtoTypeSIP,
		SrcIP: m.src.Addr(), SrcPort: m.src.Port(), DstIP: m.dst.Addr(), DstPort: m.dst.Port(),
		TsSec: uint32(m.at.Unix()), TsUsec: uint32(m.at.Nanosecond() / 1000),
		CaptureID: 4242, AuthKey: []byte("seed"), Payload: m.raw,
	}
	if m.tcp {
		hp.Proto = 6
	}
}

// Next returns the next message as the collector would build it from the
// HEP packet NextHEP makes, received 2 ms after capture.
func (g *Generator) Next() hepvault.Packet {
	var hp hep.Packet
	g.NextHEP(&hp)
	err := sip.Parse(hp.Payload, &g.msg)
	recv := hp.Time().Add(2 * time.Millisecond)
	// Like the collector's ids: receive nanoseconds, strictly increasing.
	g.id = max(recv.UnixNano(), g.id+1)
	return collector.Build(&hp, &g.msg, err, recv, g.id)
}

// Packets returns the next n packets.
func (g *Generator) Packets(n int) []hepvault.Packet {
	out := make([]hepvault.Packet, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// avgPerDialog is the mean number of messages a dialog makes with the mix
// in startDialog; it spaces dialogs so that messages come at cfg.Rate.
const avgPerDialog = 0.30*14 + 0.06*8 + 0.04*4 + 0.05*14 + 0.20*4 + 0.35*2

func (g *Generator) startDialog() {
	at := g.next
	gap := g.rng.ExpFloat64() * avgPerDialog / g.cfg.Rate
	g.next = at.Add(time.Duration(gap * float64(time.Second)))
	d := g.newDialog(at)
	switch r := g.rng.Float64(); {
	case r < 0.30:
		d.answered()
	case r < 0.35:
		d.rejected(486, "Busy Here")
	case r < 0.36:
		d.rejected(503, "Service Unavailable") // the gateway's trunk is down
	case r < 0.40:
		d.notFound()
	case r < 0.45:
		d.cancelled()
	case r < 0.65:
		d.register()
	default:
		d.options()
	}
}

func (g *Generator) push(m *message) {
	g.seq++
	m.order = g.seq
	heap.Push(&g.pending, m)
}

type msgHeap []*message

func (h msgHeap) Len() int { return len(h) }
func (h msgHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].order < h[j].order
}
func (h msgHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *msgHeap) Push(x any)   { *h = append(*h, x.(*message)) }
func (h *msgHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}
