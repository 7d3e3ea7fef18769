package store

import (
	"encoding/binary"
	"fmt"
)

// A block's image is its packet_v1[] as PostgreSQL keeps it in memory once
// detoasted, which packets_image (migrations/0001_init.up.sql, created
// when hepvault's role may) returns as a bytea. Sealing and verify read a
// day through it: PostgreSQL's binary output of packet_v1[] calls a send
// function per column of every packet and costs ~7 µs a packet, 20 times
// what detoasting the block costs, while the image is a copy. It is the
// stored value itself, so what is hashed is still what is stored.
//
// The layout is PostgreSQL's (src/include/utils/array.h, access/htup_details.h,
// varatt.h), in the server's byte order, which the image reader checks
// against the element type's OID: a one-dimensional array (ndim,
// dataoffset, element type, dimension, lower bound), its elements each
// aligned to 8 bytes from the start of the value, each a composite datum: a
// heap tuple header (length, typmod, type, ctid, infomask2 with the
// attribute count, infomask, t_hoff, a null bitmap when a column is NULL)
// and the attributes at t_hoff, each aligned to its type's alignment, a
// varlena with a one-byte header not aligned at all.

// imageHeader is the varlena header the bytea's value leaves out: offsets
// in the image are this much short of the in-memory value's, whose start
// alignment is reckoned from.
const imageHeader = 4

// imageReader walks the elements of a block's image.
type imageReader struct {
	b   []byte
	off int
	n   int // elements left
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// reset starts on an image whose elements must be of type oid (packet_v1
// in this database): another OID means a server whose byte order or layout
// this reader does not know, or not a block.
func (r *imageReader) reset(b []byte, oid uint32) error {
	*r = imageReader{b: b}
	if len(b) < 12 {
		return errBadBlock
	}
	ndim, dataOffset := int32(le32(b)), int32(le32(b[4:]))
	switch {
	case ndim == 0:
		return nil
	case ndim != 1 || len(b) < 20:
		return errBadBlock
	case le32(b[8:]) != oid:
		return fmt.Errorf("%w: an image of element type %d, not packet_v1 (%d)", errBadBlock, le32(b[8:]), oid)
	case dataOffset != 0:
		return fmt.Errorf("%w: a NULL packet", errBadBlock)
	}
	n := int32(le32(b[12:]))
	if n < 0 || int(n) > len(b) {
		return errBadBlock
	}
	// The elements start after the header and the one dimension's size and
	// lower bound, at 8-byte alignment (ARR_OVERHEAD_NONULLS).
	r.n, r.off = int(n), align(20+imageHeader, 8)-imageHeader
	return nil
}

func align(off, a int) int { return (off + a - 1) &^ (a - 1) }

// next returns the next element: one packet_v1 as a heap tuple.
func (r *imageReader) next() ([]byte, error) {
	if r.n <= 0 {
		return nil, errBadBlock
	}
	r.n--
	r.off = align(r.off+imageHeader, 8) - imageHeader
	if len(r.b)-r.off < 4 {
		return nil, errBadBlock
	}
	h := le32(r.b[r.off:])
	n := int(h >> 2)
	if h&3 != 0 || n < tupleHeader || n > len(r.b)-r.off {
		return nil, errBadBlock
	}
	t := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return t, nil
}

// tupleHeader is the size of a heap tuple's header before its null bitmap
// (HeapTupleHeaderData up to t_bits).
const tupleHeader = 23

// imageColumns splits one packet_v1 heap tuple into d.cols in the binary
// output's form, which next reads: text, bytea and inet values alias the
// tuple; integers and times, turned big-endian, and inet's header live in
// d.fixed. Like columns, it reads missing trailing columns as NULL and
// passes over columns added after this code was written.
func (d *blockDecoder) imageColumns(t []byte) error {
	natts := int(binary.LittleEndian.Uint16(t[18:]) & 0x07ff) // HEAP_NATTS_MASK
	hasNull := binary.LittleEndian.Uint16(t[20:])&0x0001 != 0 // HEAP_HASNULL
	off := int(t[22])                                         // t_hoff
	if off < tupleHeader || off > len(t) || hasNull && off < tupleHeader+(natts+7)/8 {
		return errBadBlock
	}
	bitmap := t[tupleHeader:off]
	for i := range numMetaColumns {
		if i >= natts || hasNull && bitmap[i>>3]&(1<<(i&7)) == 0 {
			d.cols[i], d.null[i] = nil, true
			continue
		}
		var v []byte
		switch w := imageWidths[i]; {
		case w > 0:
			off = align(off, w)
			if len(t)-off < w {
				return errBadBlock
			}
			v = d.fixed[i][:w]
			for j := range w { // the server's little-endian, as the binary output's big-endian
				v[j] = t[off+w-1-j]
			}
			off += w
		default: // text, bytea, inet: varlena
			var err error
			if v, err = imageVarlena(t, &off); err != nil {
				return err
			}
			if metaColumns[i].oid == oidInet {
				// inet_struct (family, bits, address) as inet_send writes
				// it: family, bits, is_cidr, address length, address.
				if len(v) != 2+4 && len(v) != 2+16 {
					return errBadBlock
				}
				f := d.fixed[i][:0]
				f = append(f, v[0], v[1], 0, byte(len(v)-2))
				v = append(f, v[2:]...)
			}
		}
		d.cols[i], d.null[i] = v, false
	}
	return nil
}

// imageWidths is each column's width in a heap tuple, its alignment too;
// 0 for a varlena.
var imageWidths = func() (w [numMetaColumns]int) {
	for i, c := range metaColumns {
		switch c.oid {
		case oidInt8, oidTimestamptz:
			w[i] = 8
		case oidInt4:
			w[i] = 4
		case oidInt2:
			w[i] = 2
		}
	}
	return w
}()

// imageVarlena reads a varlena attribute at *off: a one-byte header (a
// short value, unaligned), or after any pad bytes a four-byte one at 4-byte
// alignment (att_align_pointer). A compressed or out-of-line value is never
// written into a packet_v1 by hepvault or by PostgreSQL's own array
// building; met here, the block is reported, not guessed at.
func imageVarlena(t []byte, off *int) ([]byte, error) {
	o := *off
	if o < len(t) && t[o] == 0 {
		o = align(o, 4)
	}
	if o >= len(t) {
		return nil, errBadBlock
	}
	var start, end int
	switch h := t[o]; {
	case h == 0x01: // VARATT_IS_1B_E: a TOAST pointer
		return nil, fmt.Errorf("%w: an out-of-line value inside a packet", errBadBlock)
	case h&1 == 1: // VARATT_IS_1B
		start, end = o+1, o+int(h>>1)
	case h&3 == 0: // VARATT_IS_4B_U
		if len(t)-o < 4 {
			return nil, errBadBlock
		}
		start, end = o+4, o+int(le32(t[o:])>>2)
	default: // VARATT_IS_4B_C
		return nil, fmt.Errorf("%w: a compressed value inside a packet", errBadBlock)
	}
	if end < start || end > len(t) {
		return nil, errBadBlock
	}
	*off = end
	return t[start:end:end], nil
}
