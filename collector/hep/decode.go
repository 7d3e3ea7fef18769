package hep

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
)

// DefaultMaxInflate caps the inflated size of a compressed payload (chunk
// 0x0010) when Decoder.MaxInflate is 0. A SIP message is a few KiB; the cap
// only stops decompression bombs.
const DefaultMaxInflate = 1 << 20

// Decoder decodes HEP packets. The zero value is ready to use. It keeps the
// inflate buffer (grown to the largest payload inflated so far, at most
// MaxInflate+1 bytes) and the gzip/zlib readers between calls, so reuse one
// per goroutine; it is not safe for concurrent use.
type Decoder struct {
	// MaxInflate caps the inflated size of a compressed payload; 0 means
	// DefaultMaxInflate.
	MaxInflate int

	buf []byte        // inflated payload; Packet.Payload aliases it when Compressed
	br  bytes.Reader  // source of the readers below
	gz  *gzip.Reader  // reused through Reset
	zr  io.ReadCloser // zlib reader, reused through zlib.Resetter
}

// Decode decodes the HEP packet in buf into p, overwriting all of p. The
// version comes from the first bytes: "HEP3" is HEPv3, a first byte of 1 or
// 2 is HEPv1/v2 (Kamailio's hep_hdr). "EEP3" is refused: sngrep, which
// calls the protocol EEP, writes "HEP3" on the wire too (HEP.md).
//
// HEPv3 is decoded up to its total length: bytes after it (UDP padding, a
// sloppy agent) are ignored, as Kamailio's own collector does.
//
// A well-formed packet without payload returns an error wrapping
// ErrNoPayload with the other fields of p decoded (a keep-alive, say).
// Every other error wraps one of ErrShortPacket, ErrNotHEP, ErrBadLength,
// ErrBadChunk or ErrInflate, and leaves p partly written.
//
// p's byte slices alias buf (or, for a compressed payload, d's inflate
// buffer): they are valid until buf is reused or the next Decode.
func (d *Decoder) Decode(buf []byte, p *Packet) error {
	p.Reset()
	if len(buf) == 0 {
		return ErrShortPacket
	}
	switch buf[0] {
	case 'H':
		return d.decodeV3(buf, p)
	case 1, 2:
		return decodeV12(buf, p)
	}
	return fmt.Errorf("%w: first byte 0x%02x", ErrNotHEP, buf[0])
}

// inflate decompresses chunk 0x0010's data, gzip or zlib told apart by their
// magic bytes, into d.buf, failing past the cap.
func (d *Decoder) inflate(data []byte) ([]byte, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: chunk 0x0010: %d bytes", ErrInflate, len(data))
	}
	d.br.Reset(data)
	var r io.Reader
	switch {
	case data[0] == 0x1f && data[1] == 0x8b: // gzip, RFC 1952
		if d.gz == nil {
			d.gz = new(gzip.Reader)
		}
		if err := d.gz.Reset(&d.br); err != nil {
			return nil, fmt.Errorf("%w: chunk 0x0010: gzip: %v", ErrInflate, err)
		}
		r = d.gz
	case data[0]&0x0f == 8 && (uint16(data[0])<<8|uint16(data[1]))%31 == 0: // zlib, RFC 1950: CM=8, check bits
		if d.zr == nil {
			zr, err := zlib.NewReader(&d.br)
			if err != nil {
				return nil, fmt.Errorf("%w: chunk 0x0010: zlib: %v", ErrInflate, err)
			}
			d.zr = zr
		} else if err := d.zr.(zlib.Resetter).Reset(&d.br, nil); err != nil {
			return nil, fmt.Errorf("%w: chunk 0x0010: zlib: %v", ErrInflate, err)
		}
		r = d.zr
	default:
		return nil, fmt.Errorf("%w: chunk 0x0010: neither gzip nor zlib (starts 0x%02x%02x)", ErrInflate, data[0], data[1])
	}

	limit := d.MaxInflate
	if limit <= 0 {
		limit = DefaultMaxInflate
	}
	out := d.buf[:0]
	for {
		if len(out) == cap(out) {
			// Grow by doubling, to at most limit+1: one byte past the cap
			// is enough to know the payload is too big.
			n := min(max(2*cap(out), 4096), limit+1)
			grown := make([]byte, len(out), n)
			copy(grown, out)
			out = grown
			d.buf = out
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > limit {
			return nil, fmt.Errorf("%w: chunk 0x0010: inflates past %d bytes", ErrInflate, limit)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: chunk 0x0010: %v", ErrInflate, err)
		}
	}
}
