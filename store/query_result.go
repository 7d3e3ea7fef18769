package store

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/hepvault/hepvault"
)

// result gathers the packets a query keeps from the blocks it reads: at
// most n in the end, in (capture time, id) order, each once. Blocks mostly
// arrive in order, so packets are appended and sorted only when a block
// overlapped an earlier one.
type result struct {
	n      int
	f      *hepvault.Filter
	pkts   []hepvault.Packet
	sorted bool
	dec    blockDecoder
	// callIDs, when set, keeps only the packets of these Call-IDs.
	callIDs map[string]struct{}
}

// addBlock decodes a block and keeps the packets the filter selects.
func (r *result) addBlock(format int16, packets []byte) error {
	d := &r.dec
	if err := d.reset(format, packets); err != nil {
		return err
	}
	var p hepvault.Packet
	for d.more() {
		if err := d.next(&p); err != nil {
			return err
		}
		if r.full() && comparePackets(&p, &r.pkts[r.n-1]) > 0 {
			break // the rest of the block sorts later still
		}
		if matches(r.f, &p) && r.hasCallID(&p) {
			own(&p)
			r.add(p)
		}
	}
	return nil
}

func (r *result) add(p hepvault.Packet) {
	if k := len(r.pkts); k > 0 && r.sorted {
		switch c := comparePackets(&r.pkts[k-1], &p); {
		case c == 0:
			return // the same packet, stored twice
		case c > 0:
			r.sorted = false
		}
	}
	r.pkts = append(r.pkts, p)
}

// full reports whether n packets are kept; it sorts and trims them.
func (r *result) full() bool {
	if len(r.pkts) < r.n {
		return false
	}
	r.normalize()
	return len(r.pkts) >= r.n
}

// nth is the capture time of the last packet kept; only after full.
func (r *result) nth() time.Time { return r.pkts[r.n-1].CapturedAt }

func (r *result) normalize() {
	if !r.sorted {
		slices.SortStableFunc(r.pkts, func(a, b hepvault.Packet) int { return comparePackets(&a, &b) })
		r.pkts = slices.CompactFunc(r.pkts, func(a, b hepvault.Packet) bool { return comparePackets(&a, &b) == 0 })
		r.sorted = true
	}
	if len(r.pkts) > r.n {
		clear(r.pkts[r.n:])
		r.pkts = r.pkts[:r.n]
	}
}

func (r *result) final() []hepvault.Packet {
	r.normalize()
	return r.pkts
}

// lowerBound is the earliest capture time f can select; zero for none.
func lowerBound(f hepvault.Filter) time.Time {
	lo := f.From
	if f.After != nil && (lo.IsZero() || f.After.CapturedAt.After(lo)) {
		lo = f.After.CapturedAt
	}
	return lo
}

var errStop = errors.New("store: stop reading")

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
func beUint16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

func (r *result) hasCallID(p *hepvault.Packet) bool {
	if r.callIDs == nil {
		return true
	}
	_, ok := r.callIDs[p.CallID]
	return ok
}
