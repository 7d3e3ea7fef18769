package capture

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/hepvault/hepvault"
)

// idGen gives imported packets ids that depend only on what was captured,
// never on when or how often the file is read. The store keeps one row per
// (captured_at, id), so importing a file twice, or two captures that
// overlap, stores each packet once.
//
// The id is the first 63 bits (a bigint stays positive) of a SHA-256 over
// the capture time in nanoseconds, the envelope (transport, HEP version,
// capture id, source and destination address and port) and the raw
// payload. Two packets that differ in any of these get different ids; a
// collision needs two different packets in the same microsecond whose
// hashes agree in 63 bits. Packets identical in all of these (a capture
// that really holds the same datagram twice, as Kamailio's siptrace mirrors
// one ACK twice) are told apart by their ordinal among identical packets in
// the file, hashed in from the second one on.
//
// A cryptographic hash (SHA-256: under a microsecond for a 600-byte message
// here) costs far less than storing the message, and leaves no doubt about
// how evenly ids spread; a seeded hash (hash/maphash) would change from run
// to run.
//
// Within one microsecond the ids, and so the order of the API, follow the
// hash, not the file: imported packets of the same microsecond come back in
// an arbitrary but fixed order.
type idGen struct {
	h    hash.Hash
	buf  []byte
	sum  [sha256.Size]byte
	seen map[uint64]seenEntry // base hash → identical packets so far
	n    uint64               // packets given ids
}

type seenEntry struct {
	count uint32
	last  uint64 // n when last seen
}

// forgetAfter bounds the memory of identical packets: an entry not seen for
// this many packets is dropped. Identical packets share a capture time, so
// in any real file they sit close together.
const forgetAfter = 1 << 20

func newIDGen() *idGen { return &idGen{h: sha256.New(), seen: map[uint64]seenEntry{}} }

// id returns p's id; p's capture time must already be final.
func (g *idGen) id(p *hepvault.Packet) int64 {
	b := g.buf[:0]
	b = binary.BigEndian.AppendUint64(b, uint64(p.CapturedAt.UnixNano()))
	b = append(b, byte(p.Transport), p.HEPVersion)
	b = binary.BigEndian.AppendUint32(b, p.CaptureID)
	src, dst := p.SrcIP.As16(), p.DstIP.As16()
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint16(b, p.SrcPort)
	b = append(b, dst[:]...)
	b = binary.BigEndian.AppendUint16(b, p.DstPort)
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Raw)))
	g.buf = b
	base := g.hash(b, p.Raw)

	g.n++
	e := g.seen[base]
	ordinal := e.count
	g.seen[base] = seenEntry{count: e.count + 1, last: g.n}
	if g.n%forgetAfter == 0 {
		for k, v := range g.seen {
			if g.n-v.last > forgetAfter {
				delete(g.seen, k)
			}
		}
	}
	if ordinal == 0 {
		return int64(base >> 1)
	}
	var more [12]byte
	binary.BigEndian.PutUint64(more[:8], base)
	binary.BigEndian.PutUint32(more[8:], ordinal)
	return int64(g.hash(more[:], nil) >> 1)
}

func (g *idGen) hash(a, b []byte) uint64 {
	g.h.Reset()
	g.h.Write(a)
	g.h.Write(b)
	return binary.BigEndian.Uint64(g.h.Sum(g.sum[:0]))
}
