package store

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// A day moves to the archive as PostgreSQL's binary COPY stream, read from
// the main database and written into the archive's. It is the format both
// sides store from and to without converting a value, but for one thing:
// an array names its element type's OID, and packet_v1's OID differs from
// one database to the next, so copyBlocks writes the archive's OID into
// the header of each block's packets array on the way. While at it, it
// takes the checksum of what it sent, so only the archive reads the day
// back to verify it.

// copySignature opens a binary COPY stream.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// blockChecksumSQL is the per-block hash copyBlocks computes, in SQL: the
// first 64 bits of the md5 of the block's fields in binary form, the
// packets array without its 12-byte header (dimensions, flags, element
// OID), summed as numeric.
const blockChecksumSQL = `SELECT count(*), coalesce(sum(b.count), 0)::bigint,
	coalesce(sum(('x' || left(md5(timestamptz_send(b.first_at) || int8send(b.first_id) || timestamptz_send(b.last_at)
		|| int4send(b.count) || int2send(b.format) || array_send(b.terms) || substr(array_send(b.packets), 13)), 16))::bit(64)::bigint::numeric), 0)::text
	FROM `

// errBadCopy: the stream is not what COPY (SELECT blockColumns ...) TO
// STDOUT (FORMAT binary) writes.
var errBadCopy = errors.New("store: archive: unexpected binary COPY stream")

// copyBlocks copies the binary COPY stream of blocks (blockColumns) from
// r to w, with each packets array's element OID changed from fromOID to
// toOID, and returns the checksum of what it wrote (blockChecksumSQL).
func copyBlocks(w io.Writer, r io.Reader, fromOID, toOID uint32) (dayChecksum, error) {
	var sum dayChecksum
	total := new(big.Int)
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	head := make([]byte, len(copySignature)+8)
	if _, err := io.ReadFull(br, head); err != nil || !bytes.Equal(head[:len(copySignature)], copySignature) {
		return sum, fmt.Errorf("%w: no header (%v)", errBadCopy, err)
	}
	ext := binary.BigEndian.Uint32(head[len(copySignature)+4:])
	extBytes := make([]byte, ext)
	if _, err := io.ReadFull(br, extBytes); err != nil {
		return sum, fmt.Errorf("%w: header extension: %v", errBadCopy, err)
	}
	bw.Write(head)
	bw.Write(extBytes)
	const fields = 7 // blockColumns
	var (
		n4    [4]byte
		field []byte
		h     = md5.New()
		part  big.Int
	)
	for {
		if _, err := io.ReadFull(br, n4[:2]); err != nil {
			return sum, fmt.Errorf("%w: tuple: %v", errBadCopy, err)
		}
		nf := int16(binary.BigEndian.Uint16(n4[:2]))
		bw.Write(n4[:2])
		if nf == -1 {
			break // the trailer
		}
		if nf != fields {
			return sum, fmt.Errorf("%w: a tuple of %d fields, want %d", errBadCopy, nf, fields)
		}
		h.Reset()
		for i := range fields {
			if _, err := io.ReadFull(br, n4[:]); err != nil {
				return sum, fmt.Errorf("%w: field: %v", errBadCopy, err)
			}
			size := int32(binary.BigEndian.Uint32(n4[:]))
			if size < 0 {
				return sum, fmt.Errorf("%w: NULL in a NOT NULL column", errBadCopy)
			}
			if cap(field) < int(size) {
				field = make([]byte, size)
			}
			field = field[:size]
			if _, err := io.ReadFull(br, field); err != nil {
				return sum, fmt.Errorf("%w: field: %v", errBadCopy, err)
			}
			switch i {
			case 3: // count
				if size != 4 {
					return sum, fmt.Errorf("%w: count of %d bytes", errBadCopy, size)
				}
				sum.packets += int64(int32(binary.BigEndian.Uint32(field)))
				h.Write(field)
			case 6: // packets: ndim, flags, element OID, ...
				if size < 12 || binary.BigEndian.Uint32(field[8:12]) != fromOID {
					return sum, fmt.Errorf("%w: packets is not an array of packet_v1 (OID %d)", errBadCopy, fromOID)
				}
				binary.BigEndian.PutUint32(field[8:12], toOID)
				h.Write(field[12:])
			default:
				h.Write(field)
			}
			bw.Write(n4[:])
			if _, err := bw.Write(field); err != nil {
				return sum, err
			}
		}
		d := h.Sum(nil)
		part.SetInt64(int64(binary.BigEndian.Uint64(d[:8])))
		total.Add(total, &part)
		sum.blocks++
	}
	if err := bw.Flush(); err != nil {
		return sum, err
	}
	sum.sum = total.String()
	return sum, nil
}
