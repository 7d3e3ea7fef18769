package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxRecord caps a record's captured length. An IP packet is at most
// 64 KiB, a segmentation-offload super-packet on a capturing host a few
// hundred; a larger length is a corrupt header, not data to allocate for.
const maxRecord = 4 << 20

// ngGuard passes a pcapng stream through unchanged while it checks, block
// by block, the captured length of packet blocks: gopacket's reader
// allocates whatever length a block claims (up to 4 GiB) before reading it.
// A block claiming more than maxRecord, or more than the block holds, ends
// the stream with ErrCorrupt before the reader sees that length.
type ngGuard struct {
	r     io.Reader
	order binary.ByteOrder // of the current section, from its header block

	hdr  [24]byte // the start of the current block, as far as read
	hn   int      // bytes of hdr filled
	skip int64    // bytes of the current block after hdr still to pass
	err  error
}

// pcapng block types (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng).
const (
	ngSectionHeader  = 0x0a0d0d0a
	ngPacket         = 2 // obsolete Packet Block
	ngSimplePacket   = 3
	ngEnhancedPacket = 6
)

func (g *ngGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		if g.skip > 0 {
			k := min(g.skip, int64(n-i))
			g.skip -= k
			i += int(k)
			continue
		}
		blockStart := i - g.hn // may be negative: the block began in an earlier read
		k := copy(g.hdr[g.hn:], p[i:n])
		g.hn += k
		i += k
		if g.hn < len(g.hdr) {
			break
		}
		if bad := g.check(); bad != nil {
			g.err = bad
			return max(blockStart, 0), bad
		}
	}
	return n, err
}

// check looks at a block's first 24 bytes and sets up skipping the rest.
func (g *ngGuard) check() error {
	g.hn = 0
	typ := binary.LittleEndian.Uint32(g.hdr[0:4])
	if typ == ngSectionHeader { // a palindrome: readable in either order
		switch binary.LittleEndian.Uint32(g.hdr[8:12]) {
		case 0x1a2b3c4d:
			g.order = binary.LittleEndian
		case 0x4d3c2b1a:
			g.order = binary.BigEndian
		default:
			return fmt.Errorf("%w: pcapng section header with byte-order magic % x", ErrCorrupt, g.hdr[8:12])
		}
	}
	if g.order == nil {
		return fmt.Errorf("%w: pcapng does not start with a section header", ErrCorrupt)
	}
	typ = g.order.Uint32(g.hdr[0:4])
	total := int64(g.order.Uint32(g.hdr[4:8]))
	if total < 12 || total%4 != 0 {
		return fmt.Errorf("%w: pcapng block of type %d with length %d", ErrCorrupt, typ, total)
	}
	var caplen, room int64
	switch typ {
	case ngEnhancedPacket, ngPacket:
		// type, length, interface, time high, time low, captured length,
		// ...; the block ends in its length again.
		caplen, room = int64(g.order.Uint32(g.hdr[20:24])), total-32
	case ngSimplePacket:
		// type, length, original length: the reader captures that much.
		// It holds no captured length: the reader takes the original one,
		// cut to the interface's snap length.
		caplen, room = int64(g.order.Uint32(g.hdr[8:12])), maxRecord
	}
	if caplen > room || caplen > maxRecord {
		return fmt.Errorf("%w: pcapng packet block claims %d captured bytes in a block of %d", ErrCorrupt, caplen, total)
	}
	// A block shorter than 24 bytes: the bytes read past it are the next
	// block's start.
	if total < int64(len(g.hdr)) {
		rest := g.hdr[total:]
		g.hn = copy(g.hdr[:], rest)
		if g.hn == len(g.hdr) { // cannot happen: blocks are at least 12 bytes
			return g.check()
		}
		return nil
	}
	g.skip = total - int64(len(g.hdr))
	return nil
}
