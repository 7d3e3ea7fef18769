package store

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
)

// A block holds a run of packets, sorted by (capture time, id), in one row of
// packet_blocks. PostgreSQL's cost is mostly per row (B-tree inserts, tuple
// handling, page extension), not per byte, so a row per ~128 packets costs it
// a fraction of what a row per packet did, and TOAST compresses the packets
// of a block together (SIP messages share most of their text).
//
// Encoding, version 1: the version byte, the first packet's capture time
// (varint Unix seconds, uvarint nanoseconds), then per packet:
//
//	uvarint  capture time − previous packet's, nanoseconds (a block spans < maxBlockSpan)
//	varint   id − previous packet's id (first packet: its id)
//	varint   received_at − captured_at, whole seconds; uvarint its nanoseconds
//	uvarint  capture_id, src_port, dst_port, status_code
//	byte     hep_version, proto_type, transport, kind
//	addr     src_ip, dst_ip: a length byte (0, 4 or 16) and the bytes
//	string   invalid_reason, correlation_id: uvarint length and the bytes
//	uvarint  a bit per header field stored (headerFields order, method
//	         included; bit 13: cseq),
//	         then each stored field; an unset bit means "parse raw", as the
//	         collector did (Packet.HeadersFromRaw)
//	string   raw
const blockVersion = 1

// Header fields are bits 0-12 of the override mask; CSeq is bit 13.
const (
	numHeaderFields = 13
	cseqBit         = 1 << numHeaderFields
)

var errBadBlock = errors.New("store: malformed packet block")

// headerFields returns pointers to the header fields of p in mask order.
func headerFields(p *hepvault.Packet) [numHeaderFields]*string {
	return [numHeaderFields]*string{&p.RequestURI, &p.Reason, &p.CallID, &p.CSeqMethod, &p.FromURI, &p.FromTag,
		&p.ToURI, &p.ToTag, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType, &p.Method}
}

// parsedFields returns what parsing raw gives for each header field, in
// headerFields order (Method last: compared like the others).
func parsedFields(m *sip.Message) [numHeaderFields][]byte {
	return [numHeaderFields][]byte{m.RequestURI, m.Reason, m.CallID, m.CSeqMethod, m.FromURI, m.FromTag,
		m.ToURI, m.ToTag, m.ViaBranch, m.UserAgent, m.Contact, m.ContentType, m.Method}
}

// blockEncoder encodes the packets of blocks; it keeps a parsed message to
// compare header fields for packets not built by the collector.
type blockEncoder struct {
	prevAt  time.Time
	prevID  int64
	msg     sip.Message
	started bool
}

// begin starts a new block: the next add writes its header.
func (e *blockEncoder) begin() { e.started = false }

// add appends p to b, the current block, and returns it; p must not sort
// before the previous packet.
func (e *blockEncoder) add(b []byte, p *hepvault.Packet) []byte {
	if !e.started {
		b = append(b, blockVersion)
		b = binary.AppendVarint(b, p.CapturedAt.Unix())
		b = binary.AppendUvarint(b, uint64(p.CapturedAt.Nanosecond()))
		e.prevAt, e.prevID, e.started = p.CapturedAt, 0, true
	}
	b = binary.AppendUvarint(b, uint64(p.CapturedAt.Sub(e.prevAt)))
	b = binary.AppendVarint(b, p.ID-e.prevID)
	e.prevAt, e.prevID = p.CapturedAt, p.ID
	b = binary.AppendVarint(b, p.ReceivedAt.Unix()-p.CapturedAt.Unix())
	b = binary.AppendUvarint(b, uint64(p.ReceivedAt.Nanosecond()))
	b = binary.AppendUvarint(b, uint64(p.CaptureID))
	b = binary.AppendUvarint(b, uint64(p.SrcPort))
	b = binary.AppendUvarint(b, uint64(p.DstPort))
	b = binary.AppendUvarint(b, uint64(max(p.StatusCode, 0)))
	b = append(b, p.HEPVersion, p.ProtoType, byte(p.Transport), byte(p.Kind))
	b = appendAddr(b, p.SrcIP)
	b = appendAddr(b, p.DstIP)
	b = appendString(b, p.InvalidReason)
	b = appendString(b, p.CorrelationID)
	b = e.appendHeaders(b, p)
	return append(binary.AppendUvarint(b, uint64(len(p.Raw))), p.Raw...)
}

// appendHeaders stores the header fields that parsing raw would not give
// back: none for a packet the collector built from raw.
func (e *blockEncoder) appendHeaders(b []byte, p *hepvault.Packet) []byte {
	if p.HeadersFromRaw {
		return append(b, 0)
	}
	m := &e.msg
	sip.Parse(p.Raw, m) // a parse error leaves what was read; fields are compared one by one
	fields, parsed := headerFields(p), parsedFields(m)
	var mask uint64
	for i, f := range fields {
		if *f != string(parsed[i]) {
			mask |= 1 << i
		}
	}
	cseq := effectiveCSeq(p.CSeq, p.CSeqMethod)
	if cseq != effectiveCSeq(m.CSeqNum, string(m.CSeqMethod)) {
		mask |= cseqBit
	}
	b = binary.AppendUvarint(b, mask)
	for i, f := range fields {
		if mask&(1<<i) != 0 {
			b = appendString(b, *f)
		}
	}
	if mask&cseqBit != 0 {
		b = binary.AppendUvarint(b, uint64(cseq))
	}
	return b
}

// effectiveCSeq is the CSeq number a packet reads back with: none without a
// CSeq method, as a malformed CSeq header has neither.
func effectiveCSeq(num uint32, method string) uint32 {
	if method == "" {
		return 0
	}
	return num
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, 0)
	}
	if a.Is4() {
		v := a.As4()
		return append(append(b, 4), v[:]...)
	}
	v := a.As16()
	return append(append(b, 16), v[:]...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// blockDecoder reads the packets of one block in order.
type blockDecoder struct {
	data []byte
	off  int
	at   time.Time
	id   int64
	msg  sip.Message
	err  error
	// keysOnly leaves the header fields to headers.
	keysOnly bool
	// The current packet's stored header fields.
	mask   uint64
	stored [numHeaderFields]string
	cseq   uint32
}

func newBlockDecoder(data []byte) *blockDecoder {
	d := &blockDecoder{}
	d.reset(data)
	return d
}

// reset starts reading data, keeping the decoder's parse buffers.
func (d *blockDecoder) reset(data []byte) {
	d.data, d.off, d.id, d.err, d.keysOnly = data, 0, 0, nil, false
	if len(data) == 0 || data[0] != blockVersion {
		d.err = errBadBlock
		return
	}
	d.off = 1
	sec := d.varint()
	nsec := d.uvarint()
	if d.err == nil && nsec >= uint64(time.Second) {
		d.err = errBadBlock
	}
	d.at = time.Unix(sec, int64(nsec)).UTC()
}

// next decodes the next packet into p, its header fields parsed from raw as
// on arrival unless stored. It returns false at the end or on an error (Err).
func (d *blockDecoder) next(p *hepvault.Packet) bool {
	if d.err != nil || d.off >= len(d.data) {
		return false
	}
	*p = hepvault.Packet{}
	delta := d.uvarint()
	if delta > uint64(maxBlockSpan) {
		d.err = errBadBlock
		return false
	}
	d.at = d.at.Add(time.Duration(delta))
	d.id += d.varint()
	p.CapturedAt, p.ID = d.at, d.id
	recvSec := d.varint()
	recvNsec := d.uvarint()
	if recvNsec >= uint64(time.Second) {
		d.err = errBadBlock
	}
	p.ReceivedAt = time.Unix(d.at.Unix()+recvSec, int64(recvNsec)).UTC()
	p.CaptureID = uint32(d.uvarint())
	p.SrcPort = uint16(d.uvarint())
	p.DstPort = uint16(d.uvarint())
	p.StatusCode = int(uint16(d.uvarint()))
	if d.off+4 > len(d.data) {
		d.err = errBadBlock
		return false
	}
	p.HEPVersion, p.ProtoType = d.data[d.off], d.data[d.off+1]
	p.Transport, p.Kind = hepvault.Transport(d.data[d.off+2]), hepvault.Kind(d.data[d.off+3])
	d.off += 4
	p.SrcIP = d.addr()
	p.DstIP = d.addr()
	p.InvalidReason = cleanText(string(d.bytes()))
	p.CorrelationID = cleanText(string(d.bytes()))
	d.mask = d.uvarint()
	for i := range d.stored {
		d.stored[i] = ""
		if d.mask&(1<<i) != 0 {
			d.stored[i] = string(d.bytes())
		}
	}
	d.cseq = 0
	if d.mask&cseqBit != 0 {
		d.cseq = uint32(d.uvarint())
	}
	p.Raw = d.bytes()
	if d.err != nil {
		return false
	}
	if !d.keysOnly {
		d.headers(p)
	}
	return true
}

// headers sets the header fields of p, the packet next returned: stored
// ones as stored, the others as parsing raw gives them. With keysOnly, next
// leaves them to this call, so a packet a filter rejects is never parsed.
// p.Raw becomes a copy: the packet no longer refers to the block.
func (d *blockDecoder) headers(p *hepvault.Packet) {
	raw := string(p.Raw)
	p.Raw = unsafe.Slice(unsafe.StringData(raw), len(raw)) // read-only, like the strings sharing it
	m := &d.msg
	sip.Parse(p.Raw, m) // an invalid message still yields what was read before the error
	fields, parsed := headerFields(p), parsedFields(m)
	for i, f := range fields {
		if d.mask&(1<<i) != 0 {
			*f = cleanText(d.stored[i])
		} else {
			*f = cleanText(substring(raw, p.Raw, parsed[i]))
		}
	}
	if d.mask&cseqBit != 0 {
		p.CSeq = d.cseq
	} else {
		p.CSeq = effectiveCSeq(m.CSeqNum, string(m.CSeqMethod))
	}
	// Nothing stored: every field came from parsing Raw, as when the
	// collector built the packet, so writing it again needs no check.
	p.HeadersFromRaw = d.mask == 0
}

func (d *blockDecoder) Err() error { return d.err }

func (d *blockDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.data[min(d.off, len(d.data)):])
	if n <= 0 {
		d.err = errBadBlock
		d.off = len(d.data)
		return 0
	}
	d.off += n
	return v
}

// varint reads what binary.AppendVarint wrote: a zig-zag encoded uvarint.
func (d *blockDecoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *blockDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.data)-d.off) {
		d.err = errBadBlock
		d.off = len(d.data)
		return nil
	}
	b := d.data[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *blockDecoder) addr() netip.Addr {
	if d.off >= len(d.data) {
		d.err = errBadBlock
		return netip.Addr{}
	}
	n := int(d.data[d.off])
	d.off++
	if (n != 0 && n != 4 && n != 16) || d.off+n > len(d.data) {
		d.err = errBadBlock
		d.off = len(d.data)
		return netip.Addr{}
	}
	b := d.data[d.off : d.off+n]
	d.off += n
	switch n {
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.Addr{}
}
