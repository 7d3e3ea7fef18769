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

// tupleNulls says which columns of a heap tuple are NULL (a missing
// trailing column is).
type tupleNulls struct {
	natts   int
	hasNull bool
	bitmap  []byte
}

func (n *tupleNulls) null(i int) bool {
	return i >= n.natts || n.hasNull && n.bitmap[i>>3]&(1<<(i&7)) == 0
}

// tupleHeaderOf reads a heap tuple's header: its NULLs, and where its first
// column starts.
func tupleHeaderOf(t []byte) (tupleNulls, int, error) {
	n := tupleNulls{
		natts:   int(binary.LittleEndian.Uint16(t[18:]) & 0x07ff), // HEAP_NATTS_MASK
		hasNull: binary.LittleEndian.Uint16(t[20:])&0x0001 != 0,   // HEAP_HASNULL
	}
	off := int(t[22]) // t_hoff
	if off < tupleHeader || off > len(t) || n.hasNull && off < tupleHeader+(n.natts+7)/8 {
		return n, 0, errBadBlock
	}
	n.bitmap = t[tupleHeader:off]
	return n, off, nil
}

// imageColumns splits one packet_v1 heap tuple into d.cols in the binary
// output's form, which next reads: text, bytea and inet values alias the
// tuple; integers and times, turned big-endian, and inet's header live in
// d.fixed. Like columns, it reads missing trailing columns as NULL and
// passes over columns added after this code was written.
func (d *blockDecoder) imageColumns(t []byte) error {
	nulls, off, err := tupleHeaderOf(t)
	if err != nil {
		return err
	}
	for i := range numMetaColumns {
		if nulls.null(i) {
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
			// The server's little-endian, as the binary output's big-endian.
			v = d.fixed[i][:w]
			switch w {
			case 8:
				binary.BigEndian.PutUint64(v, binary.LittleEndian.Uint64(t[off:]))
			case 4:
				binary.BigEndian.PutUint32(v, binary.LittleEndian.Uint32(t[off:]))
			default:
				binary.BigEndian.PutUint16(v, binary.LittleEndian.Uint16(t[off:]))
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

// imageCanonical appends the canonical encoding of the packet whose heap
// tuple is t, in one pass over its columns (the encoding holds them in
// their order): what imageColumns then appendCanonical give, without
// splitting the tuple first. It returns the packet's id and capture time.
func imageCanonical(t, b []byte) (out []byte, id, capturedAt int64, err error) {
	nulls, off, err := tupleHeaderOf(t)
	if err != nil {
		return b, 0, 0, err
	}
	b = append(b, canonicalVersion)
	for i := range canonicalColumns {
		c := &canonicalColumns[i]
		null := nulls.null(i)
		switch c.kind {
		case canonTime, canonInt:
			var n int64
			if !null {
				w := imageWidths[i]
				off = align(off, w)
				if len(t)-off < w {
					return b, 0, 0, errBadBlock
				}
				switch w {
				case 8:
					n = int64(binary.LittleEndian.Uint64(t[off:]))
				case 4:
					n = int64(int32(binary.LittleEndian.Uint32(t[off:])))
				default:
					n = int64(int16(binary.LittleEndian.Uint16(t[off:])))
				}
				off += w
			}
			if c.kind == canonTime {
				if n += pgEpoch; null {
					n = zeroTimeMicro
				}
				if i == colCapturedAt {
					capturedAt = n
				}
				b = binary.BigEndian.AppendUint64(b, uint64(n))
				continue
			}
			if n < c.lo || n > c.hi {
				return b, 0, 0, errBadBlock
			}
			if i == colID {
				id = n
			}
			b = appendInt(b, n, c.size)
		case canonInet:
			if null {
				b = append(b, 0)
				continue
			}
			v, err := imageVarlena(t, &off)
			if err != nil {
				return b, 0, 0, err
			}
			// inet_struct: family (2: IPv4, 3: IPv6), bits, the address.
			switch {
			case len(v) == 2+4 && v[0] == 2:
				b = append(append(b, 4), v[2:]...)
			case len(v) == 2+16 && v[0] == 3:
				b = append(append(b, 16), v[2:]...)
			default:
				return b, 0, 0, errBadBlock
			}
		default:
			var v []byte
			switch {
			case null:
			case off < len(t) && t[off]&1 == 1 && t[off] != 1:
				// A short value (a one-byte header), most of them: what
				// imageVarlena reads, without the call.
				end := off + int(t[off]>>1)
				if end > len(t) {
					return b, 0, 0, errBadBlock
				}
				v, off = t[off+1:end], end
			default:
				if v, err = imageVarlena(t, &off); err != nil {
					return b, 0, 0, err
				}
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
	}
	return b, id, capturedAt, nil
}

// nextCanonical appends the canonical encoding of the next packet, as
// appendCanonical does after split; it returns its id and capture time.
func (d *blockDecoder) nextCanonical(b []byte) (out []byte, id, capturedAt int64, err error) {
	if d.inImage {
		t, err := d.image.next()
		if err != nil {
			return b, 0, 0, err
		}
		return imageCanonical(t, b)
	}
	if err := d.split(); err != nil {
		return b, 0, 0, err
	}
	return d.appendCanonical(b)
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
// alignment (att_align_pointer). hepvault never writes a compressed value
// inside a packet, but SQL can (a value read from a column kept compressed
// in line goes into a composite as it is): it is decompressed, so that
// verify names the packet it changed. An out-of-line value (a TOAST
// pointer) never stands inside a composite: PostgreSQL flattens them.
func imageVarlena(t []byte, off *int) ([]byte, error) {
	o := *off
	if o < len(t) && t[o] == 0 {
		o = align(o, 4)
	}
	if o >= len(t) {
		return nil, errBadBlock
	}
	var start, end int
	compressed := false
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
	default: // VARATT_IS_4B_C: the raw size and method, then the data
		if len(t)-o < 8 {
			return nil, errBadBlock
		}
		start, end, compressed = o+4, o+int(le32(t[o:])>>2), true
	}
	if end < start || end > len(t) {
		return nil, errBadBlock
	}
	*off = end
	if compressed {
		return decompressValue(t[start:end])
	}
	return t[start:end:end], nil
}

// Compression methods of a compressed varlena (toast_compression.h).
const (
	pglzMethod = 0
	lz4Method  = 1
)

// decompressValue decompresses a compressed varlena's body: va_tcinfo (the
// raw size in its low 30 bits, the method in its top 2), then the data.
func decompressValue(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, errBadBlock
	}
	info := le32(b)
	size, method := int(info&0x3fffffff), info>>30
	if size > 256*len(b)+1024 { // neither method expands so far (LZ4 at most ~255 times): a lie, not a value
		return nil, fmt.Errorf("%w: a compressed value of %d bytes claims %d", errBadBlock, len(b), size)
	}
	dst := make([]byte, 0, size)
	var err error
	switch method {
	case pglzMethod:
		dst, err = pglzDecompress(dst, b[4:], size)
	case lz4Method:
		dst, err = lz4Decompress(dst, b[4:], size)
	default:
		err = fmt.Errorf("%w: compression method %d", errBadBlock, method)
	}
	if err == nil && len(dst) != size {
		err = fmt.Errorf("%w: a compressed value gave %d bytes of %d", errBadBlock, len(dst), size)
	}
	return dst, err
}

// pglzDecompress appends the decompression of src (PostgreSQL's pglz,
// common/pg_lzcompress.c) to dst, up to size bytes: a control byte, then
// eight items, each a literal byte (bit clear) or a back-reference of 2 or 3
// bytes (bit set): length 3-273, offset 1-4095.
func pglzDecompress(dst, src []byte, size int) ([]byte, error) {
	for i := 0; i < len(src) && len(dst) < size; {
		ctrl := src[i]
		i++
		for bit := 0; bit < 8 && i < len(src) && len(dst) < size; bit++ {
			if ctrl&1 == 0 {
				dst = append(dst, src[i])
				i++
			} else {
				if len(src)-i < 2 {
					return nil, errBadBlock
				}
				n := int(src[i]&0x0f) + 3
				off := int(src[i]&0xf0)<<4 | int(src[i+1])
				i += 2
				if n == 18 {
					if i >= len(src) {
						return nil, errBadBlock
					}
					n += int(src[i])
					i++
				}
				var err error
				if dst, err = backCopy(dst, off, min(n, size-len(dst))); err != nil {
					return nil, err
				}
			}
			ctrl >>= 1
		}
	}
	return dst, nil
}

// lz4Decompress appends the decompression of src (an LZ4 block, as
// PostgreSQL's LZ4_compress_default writes it) to dst, up to size bytes:
// sequences of a token, literals, and a match of offset and length.
func lz4Decompress(dst, src []byte, size int) ([]byte, error) {
	length := func(n int, i *int) (int, error) {
		if n != 15 {
			return n, nil
		}
		for {
			if *i >= len(src) {
				return 0, errBadBlock
			}
			b := src[*i]
			*i++
			n += int(b)
			if n > size {
				return 0, errBadBlock
			}
			if b != 255 {
				return n, nil
			}
		}
	}
	for i := 0; i < len(src); {
		token := src[i]
		i++
		lit, err := length(int(token>>4), &i)
		if err != nil {
			return nil, err
		}
		if lit > len(src)-i || lit > size-len(dst) {
			return nil, errBadBlock
		}
		dst = append(dst, src[i:i+lit]...)
		i += lit
		if i == len(src) {
			break // the last sequence has no match
		}
		if len(src)-i < 2 {
			return nil, errBadBlock
		}
		off := int(src[i]) | int(src[i+1])<<8
		i += 2
		n, err := length(int(token&0x0f), &i)
		if err != nil {
			return nil, err
		}
		if n+4 > size-len(dst) {
			return nil, errBadBlock
		}
		if dst, err = backCopy(dst, off, n+4); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// backCopy appends n bytes copied from off bytes back in dst, byte by byte
// (the source may overlap what is appended).
func backCopy(dst []byte, off, n int) ([]byte, error) {
	if off <= 0 || off > len(dst) {
		return nil, fmt.Errorf("%w: a back-reference before the start of a compressed value", errBadBlock)
	}
	from := len(dst) - off
	for k := range n {
		dst = append(dst, dst[from+k])
	}
	return dst, nil
}
