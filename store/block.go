package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
	"unsafe"

	"github.com/hepvault/hepvault"
)

// A block is one row of packet_blocks (migrations/0001_init.up.sql): up to
// maxBlockPackets packets sorted by (capture time, id), as one PostgreSQL
// array, packet_v1[], in PostgreSQL's own binary format, which hepvault
// writes and reads itself. A packet_v1 holds every field as it was
// extracted on arrival and the payload. So a stored packet reads back
// as it was written, whatever the SIP parser of the day makes of its
// payload, and PostgreSQL reads blocks without hepvault.
//
// Fields and payloads share one array because TOAST compresses each value
// on its own: in one, a header field costs a back-reference to the same
// bytes in the payload beside it (measured: 206 bytes a packet against 246
// in two arrays; one array per column, 258, as most stay too small to be
// compressed).
//
// The same bytes go to the spool while the database is away (appendBlock),
// so spooling a batch costs what writing it costs.
type block struct {
	firstAt, lastAt time.Time // microseconds, as PostgreSQL keeps them
	firstID         int64
	count           int32
	format          int16
	terms           []int32 // sorted, once each (terms.go)
	packets         []byte  // binary packet_v1[]
}

// Block formats: packets is a one-dimensional packet_v1[], its values'
// columns in the order of metaColumns. Format 1 has the columns up to raw;
// format 2 adds correlation_header. A format adds columns at the end, so
// the decoder reads every format alike, a column a value lacks as NULL.
// The number still matters to the writer: PostgreSQL's binary input takes
// a packet_v1 only with every attribute the type has now, so a block of an
// older format (from the spool of an older hepvault) is written again in
// the current one before it is sent (upgrade).
const (
	format1       = 1
	format2       = 2
	currentFormat = format2
)

// Built-in type OIDs, fixed by PostgreSQL.
const (
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidInet        = 869
	oidTimestamptz = 1184
)

// metaColumns are the attributes of packet_v1 in order, with their types;
// the encoder writes them and the decoder checks them.
var metaColumns = [...]struct {
	name string
	oid  uint32
}{
	{"captured_at", oidTimestamptz}, {"id", oidInt8}, {"received_at", oidTimestamptz},
	{"capture_id", oidInt8}, {"hep_version", oidInt2}, {"proto_type", oidInt2},
	{"correlation_id", oidText}, {"src_ip", oidInet}, {"src_port", oidInt4},
	{"dst_ip", oidInet}, {"dst_port", oidInt4}, {"transport", oidInt2},
	{"kind", oidInt2}, {"invalid_reason", oidText}, {"method", oidText},
	{"request_uri", oidText}, {"status_code", oidInt2}, {"reason", oidText},
	{"call_id", oidText}, {"cseq", oidInt8}, {"cseq_method", oidText},
	{"from_uri", oidText}, {"from_tag", oidText}, {"from_user", oidText},
	{"to_uri", oidText}, {"to_tag", oidText}, {"to_user", oidText},
	{"ruri_user", oidText}, {"pai_user", oidText}, {"via_branch", oidText},
	{"user_agent", oidText}, {"contact", oidText}, {"content_type", oidText},
	{"raw", oidBytea}, {"correlation_header", oidText},
}

// Column indexes of metaColumns that the decoder reads by number.
const (
	colCapturedAt = iota
	colID
	colReceivedAt
	colCaptureID
	colHEPVersion
	colProtoType
	colCorrelationID
	colSrcIP
	colSrcPort
	colDstIP
	colDstPort
	colTransport
	colKind
	colInvalidReason
	colMethod
	colRequestURI
	colStatusCode
	colReason
	colCallID
	colCSeq
	colCSeqMethod
	colFromURI
	colFromTag
	colFromUser
	colToURI
	colToTag
	colToUser
	colRURIUser
	colPAIUser
	colViaBranch
	colUserAgent
	colContact
	colContentType
	colRaw
	colCorrelationHeader
	numMetaColumns
)

var errBadBlock = errors.New("store: malformed packet block")

// pgEpoch is PostgreSQL's time zero: timestamps count microseconds from it.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// metaElemOIDAt is where a binary array keeps its element type's OID, which
// for packet_v1 differs from one database to the next: the writer sets it
// before sending (setMetaOID), and the spool keeps whatever was there.
const metaElemOIDAt = 8

// arrayHeader appends the header of a one-dimensional binary array of n
// elements of type oid, no NULL elements.
func arrayHeader(b []byte, oid uint32, n int) []byte {
	b = binary.BigEndian.AppendUint32(b, 1) // dimensions
	b = binary.BigEndian.AppendUint32(b, 0) // no NULL elements
	b = binary.BigEndian.AppendUint32(b, oid)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return binary.BigEndian.AppendUint32(b, 1) // lower bound
}

// metaEncoder appends packets to a block's packet_v1 array.
type metaEncoder struct{ b []byte }

func (e *metaEncoder) col(oid uint32, v []byte) {
	e.b = binary.BigEndian.AppendUint32(e.b, oid)
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(v)))
	e.b = append(e.b, v...)
}

func (e *metaEncoder) null(oid uint32) {
	e.b = binary.BigEndian.AppendUint32(e.b, oid)
	e.b = binary.BigEndian.AppendUint32(e.b, 0xFFFFFFFF)
}

func (e *metaEncoder) int8(v int64) {
	e.b = binary.BigEndian.AppendUint32(e.b, oidInt8)
	e.b = binary.BigEndian.AppendUint32(e.b, 8)
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(v))
}

func (e *metaEncoder) int4(v int32) {
	e.b = binary.BigEndian.AppendUint32(e.b, oidInt4)
	e.b = binary.BigEndian.AppendUint32(e.b, 4)
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(v))
}

func (e *metaEncoder) int2(v int16) {
	e.b = binary.BigEndian.AppendUint32(e.b, oidInt2)
	e.b = binary.BigEndian.AppendUint32(e.b, 2)
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(v))
}

func (e *metaEncoder) time(t time.Time) {
	e.b = binary.BigEndian.AppendUint32(e.b, oidTimestamptz)
	e.b = binary.BigEndian.AppendUint32(e.b, 8)
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(t.UnixMicro()-pgEpoch))
}

// text writes s made valid for a text value (cleanText); "" is NULL.
func (e *metaEncoder) text(s string) {
	if s == "" {
		e.null(oidText)
		return
	}
	s = cleanText(s)
	e.col(oidText, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// inet writes a in the binary form of inet: family (2 IPv4, 3 IPv6), bits,
// is_cidr, length, address. No address is NULL; a zone is not kept.
func (e *metaEncoder) inet(a netip.Addr) {
	if !a.IsValid() {
		e.null(oidInet)
		return
	}
	e.b = binary.BigEndian.AppendUint32(e.b, oidInet)
	if a.Is4() {
		v := a.As4()
		e.b = binary.BigEndian.AppendUint32(e.b, 8)
		e.b = append(append(e.b, 2, 32, 0, 4), v[:]...)
		return
	}
	v := a.As16()
	e.b = binary.BigEndian.AppendUint32(e.b, 20)
	e.b = append(append(e.b, 3, 128, 0, 16), v[:]...)
}

// add appends p as one packet_v1 value.
func (e *metaEncoder) add(p *hepvault.Packet) {
	lenAt := len(e.b)
	e.b = binary.BigEndian.AppendUint32(e.b, 0) // the value's length, set below
	e.b = binary.BigEndian.AppendUint32(e.b, numMetaColumns)
	e.time(p.CapturedAt)
	e.int8(p.ID)
	e.time(p.ReceivedAt)
	e.int8(int64(p.CaptureID))
	e.int2(int16(p.HEPVersion))
	e.int2(int16(p.ProtoType))
	e.text(p.CorrelationID)
	e.inet(p.SrcIP)
	e.int4(int32(p.SrcPort))
	e.inet(p.DstIP)
	e.int4(int32(p.DstPort))
	e.int2(int16(p.Transport))
	e.int2(int16(p.Kind))
	e.text(p.InvalidReason)
	e.text(p.Method)
	e.text(p.RequestURI)
	if p.StatusCode != 0 {
		e.int2(int16(p.StatusCode))
	} else {
		e.null(oidInt2)
	}
	e.text(p.Reason)
	e.text(p.CallID)
	if p.CSeq != 0 || p.CSeqMethod != "" {
		e.int8(int64(p.CSeq))
	} else {
		e.null(oidInt8)
	}
	e.text(p.CSeqMethod)
	e.text(p.FromURI)
	e.text(p.FromTag)
	e.text(p.FromUser)
	e.text(p.ToURI)
	e.text(p.ToTag)
	e.text(p.ToUser)
	e.text(p.RURIUser)
	e.text(p.PAIUser)
	e.text(p.ViaBranch)
	e.text(p.UserAgent)
	e.text(p.Contact)
	e.text(p.ContentType)
	e.col(oidBytea, p.Raw)
	e.text(p.CorrelationHeader)
	binary.BigEndian.PutUint32(e.b[lenAt:], uint32(len(e.b)-lenAt-4))
}

// setMetaOID writes packet_v1's OID in this database into a block's array.
func setMetaOID(meta []byte, oid uint32) {
	if len(meta) >= metaElemOIDAt+4 {
		binary.BigEndian.PutUint32(meta[metaElemOIDAt:], oid)
	}
}

// arrayReader walks the elements of a one-dimensional binary array.
type arrayReader struct {
	b   []byte
	off int
	n   int // elements left
}

func (r *arrayReader) reset(b []byte) error {
	*r = arrayReader{b: b}
	if len(b) < 12 {
		return errBadBlock
	}
	ndim := binary.BigEndian.Uint32(b)
	switch {
	case ndim == 0: // an empty array has no dimensions
		r.off = 12
		return nil
	case ndim != 1 || len(b) < 20:
		return errBadBlock
	}
	n := binary.BigEndian.Uint32(b[12:])
	if n > uint32(len(b)) {
		return errBadBlock
	}
	r.n, r.off = int(n), 20
	return nil
}

// next returns the next element; null reports a NULL one.
func (r *arrayReader) next() (v []byte, null bool, err error) {
	if r.n <= 0 {
		return nil, false, errBadBlock
	}
	r.n--
	return readValue(r.b, &r.off)
}

// readValue reads a length-prefixed value at *off.
func readValue(b []byte, off *int) ([]byte, bool, error) {
	if len(b)-*off < 4 {
		return nil, false, errBadBlock
	}
	n := int32(binary.BigEndian.Uint32(b[*off:]))
	*off += 4
	if n == -1 {
		return nil, true, nil
	}
	if n < 0 || int(n) > len(b)-*off {
		return nil, false, errBadBlock
	}
	v := b[*off : *off+int(n) : *off+int(n)]
	*off += int(n)
	return v, false, nil
}

// blockDecoder reads the packets of blocks. The packets it gives refer to
// the block's bytes (strings included) until own makes them independent.
type blockDecoder struct {
	packets arrayReader
	image   imageReader // instead of packets, after resetImage
	inImage bool
	cols    [numMetaColumns][]byte
	null    [numMetaColumns]bool
	fixed   [numMetaColumns][20]byte // an image's integers and inet headers, as the binary output has them
}

// reset starts reading a block of the given format.
func (d *blockDecoder) reset(format int16, packets []byte) error {
	if format < format1 || format > currentFormat {
		return fmt.Errorf("%w: unknown format %d", errBadBlock, format)
	}
	d.inImage = false
	return d.packets.reset(packets)
}

// resetImage starts reading a block's image (block_image.go), its
// elements of type oid (packet_v1 in this database).
func (d *blockDecoder) resetImage(format int16, image []byte, oid uint32) error {
	if format < format1 || format > currentFormat {
		return fmt.Errorf("%w: unknown format %d", errBadBlock, format)
	}
	d.inImage = true
	return d.image.reset(image, oid)
}

// more reports whether a packet is left.
func (d *blockDecoder) more() bool {
	if d.inImage {
		return d.image.n > 0
	}
	return d.packets.n > 0
}

// next decodes the next packet into p, its strings and Raw aliasing the
// block.
func (d *blockDecoder) next(p *hepvault.Packet) error {
	if err := d.split(); err != nil {
		return err
	}
	return d.packet(p)
}

// split splits the next packet into d.cols.
func (d *blockDecoder) split() error {
	if d.inImage {
		t, err := d.image.next()
		if err != nil {
			return err
		}
		return d.imageColumns(t)
	}
	rec, null, err := d.packets.next()
	if err != nil || null {
		return errBadBlock
	}
	return d.columns(rec)
}

// packet builds the packet split has split. It reads each column as the
// canonical encoding's writers do (micro, num within canonicalColumns'
// range, inet, str), so that a packet's leaf is the same whichever way it
// is computed.
func (d *blockDecoder) packet(p *hepvault.Packet) error {
	*p = hepvault.Packet{Raw: d.cols[colRaw]}
	ok := true
	tm := func(i int) time.Time {
		if us, null := d.micro(i, &ok); !null {
			return time.UnixMicro(us).UTC()
		}
		return time.Time{}
	}
	// Each integer within the range the canonical encoding gives it.
	num := func(i int) int64 { c := &canonicalColumns[i]; return d.num(i, c.lo, c.hi, &ok) }
	str := d.str
	p.CapturedAt, p.ID, p.ReceivedAt = tm(colCapturedAt), num(colID), tm(colReceivedAt)
	p.CaptureID = uint32(num(colCaptureID))
	p.HEPVersion, p.ProtoType = uint8(num(colHEPVersion)), uint8(num(colProtoType))
	p.CorrelationID = str(colCorrelationID)
	p.SrcIP, p.SrcPort = d.inet(colSrcIP, &ok), uint16(num(colSrcPort))
	p.DstIP, p.DstPort = d.inet(colDstIP, &ok), uint16(num(colDstPort))
	p.Transport, p.Kind = hepvault.Transport(num(colTransport)), hepvault.Kind(num(colKind))
	p.InvalidReason, p.Method, p.RequestURI = str(colInvalidReason), str(colMethod), str(colRequestURI)
	p.StatusCode, p.Reason = int(num(colStatusCode)), str(colReason)
	p.CallID, p.CSeq, p.CSeqMethod = str(colCallID), uint32(num(colCSeq)), str(colCSeqMethod)
	p.FromURI, p.FromTag, p.FromUser = str(colFromURI), str(colFromTag), str(colFromUser)
	p.ToURI, p.ToTag, p.ToUser = str(colToURI), str(colToTag), str(colToUser)
	p.RURIUser, p.PAIUser = str(colRURIUser), str(colPAIUser)
	p.ViaBranch, p.UserAgent = str(colViaBranch), str(colUserAgent)
	p.Contact, p.ContentType = str(colContact), str(colContentType)
	p.CorrelationHeader = str(colCorrelationHeader)
	if !ok {
		return errBadBlock
	}
	if p.Raw == nil {
		p.Raw = []byte{}
	}
	return nil
}

// micro reads a timestamptz column as microseconds since 1970; null when
// it is NULL (the zero time.Time).
func (d *blockDecoder) micro(i int, ok *bool) (us int64, null bool) {
	if d.null[i] {
		return 0, true
	}
	if len(d.cols[i]) != 8 {
		*ok = false
		return 0, true
	}
	return int64(binary.BigEndian.Uint64(d.cols[i])) + pgEpoch, false
}

// num reads an integer column of its type's width, within [lo, hi]: what
// the encoder writes. Anything else is a damaged block (or a row written by
// other hands), which must not read back as a value that turns into another
// when written again.
func (d *blockDecoder) num(i int, lo, hi int64, ok *bool) int64 {
	v := d.cols[i]
	var n int64
	switch oid := metaColumns[i].oid; {
	case d.null[i]:
		return 0
	case oid == oidInt8 && len(v) == 8:
		n = int64(binary.BigEndian.Uint64(v))
	case oid == oidInt4 && len(v) == 4:
		n = int64(int32(binary.BigEndian.Uint32(v)))
	case oid == oidInt2 && len(v) == 2:
		n = int64(int16(binary.BigEndian.Uint16(v)))
	default:
		*ok = false
	}
	if n < lo || n > hi {
		*ok = false
	}
	return n
}

// str reads a text column, aliasing the block.
func (d *blockDecoder) str(i int) string {
	if d.null[i] || len(d.cols[i]) == 0 {
		return ""
	}
	return unsafe.String(&d.cols[i][0], len(d.cols[i]))
}

// columns splits one packet_v1 value into d.cols. A value written before
// later columns existed has fewer: those read as NULL. Columns added after
// this code was written are passed over.
func (d *blockDecoder) columns(rec []byte) error {
	if len(rec) < 4 {
		return errBadBlock
	}
	n := int(binary.BigEndian.Uint32(rec))
	if n > len(rec) {
		return errBadBlock
	}
	off := 4
	for i := range numMetaColumns {
		d.cols[i], d.null[i] = nil, true
		if i >= n {
			continue
		}
		if len(rec)-off < 4 || binary.BigEndian.Uint32(rec[off:]) != metaColumns[i].oid {
			return errBadBlock
		}
		off += 4
		v, null, err := readValue(rec, &off)
		if err != nil {
			return err
		}
		d.cols[i], d.null[i] = v, null
	}
	return nil
}

func (d *blockDecoder) inet(i int, ok *bool) netip.Addr {
	v := d.cols[i]
	if d.null[i] {
		return netip.Addr{}
	}
	switch {
	case len(v) == 8 && v[0] == 2 && v[3] == 4:
		return netip.AddrFrom4([4]byte(v[4:8]))
	case len(v) == 20 && v[0] == 3 && v[3] == 16:
		return netip.AddrFrom16([16]byte(v[4:20]))
	}
	*ok = false
	return netip.Addr{}
}

// own gives p memory of its own, one allocation for all its strings and
// Raw, so that it outlives the block; text is made valid UTF-8 without NUL
// (cleanText), which a damaged block could otherwise hand on.
func own(p *hepvault.Packet) {
	fields := [...]*string{&p.CorrelationID, &p.InvalidReason, &p.Method, &p.RequestURI, &p.Reason,
		&p.CallID, &p.CSeqMethod, &p.FromURI, &p.FromTag, &p.FromUser, &p.ToURI, &p.ToTag, &p.ToUser,
		&p.RURIUser, &p.PAIUser, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType, &p.CorrelationHeader}
	n := len(p.Raw)
	for _, f := range fields {
		*f = cleanText(*f)
		n += len(*f)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, p.Raw...)
	p.Raw = buf[:len(p.Raw):len(p.Raw)]
	for _, f := range fields {
		if *f == "" {
			continue
		}
		at := len(buf)
		buf = append(buf, *f...)
		*f = unsafe.String(&buf[at], len(*f))
	}
	if len(p.Raw) == 0 {
		p.Raw = []byte{}
	}
}

// appendBlock appends b as the spool keeps it: the format, the key, the
// terms and the array, length-prefixed. readBlock is its inverse.
func appendBlock(dst []byte, b *block) []byte {
	dst = binary.AppendUvarint(dst, uint64(b.format))
	dst = binary.AppendVarint(dst, b.firstAt.UnixMicro())
	dst = binary.AppendVarint(dst, b.firstID)
	dst = binary.AppendUvarint(dst, uint64(b.lastAt.UnixMicro()-b.firstAt.UnixMicro()))
	dst = binary.AppendUvarint(dst, uint64(b.count))
	dst = binary.AppendUvarint(dst, uint64(len(b.terms)))
	for _, t := range b.terms {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(t))
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.packets)))
	return append(dst, b.packets...)
}

// readBlock reads a block appendBlock wrote at the start of src and returns
// the rest; the block's array aliases src.
func readBlock(src []byte) (block, []byte, error) {
	var b block
	off := 0
	uv := func() uint64 {
		v, n := binary.Uvarint(src[min(off, len(src)):])
		if n <= 0 {
			off = len(src) + 1
			return 0
		}
		off += n
		return v
	}
	sv := func() int64 { u := uv(); return int64(u>>1) ^ -int64(u&1) }
	bytes := func() []byte {
		n := uv()
		if off > len(src) || n > uint64(len(src)-off) {
			off = len(src) + 1
			return nil
		}
		v := src[off : off+int(n) : off+int(n)]
		off += int(n)
		return v
	}
	format := uv()
	first := sv()
	b.firstID = sv()
	span := uv()
	count := uv()
	nterms := uv()
	if off > len(src) || format > math.MaxInt16 || count > math.MaxInt32 ||
		span > uint64(maxBlockSpan/time.Microsecond) || nterms > uint64(len(src)-off)/4 {
		return b, nil, errBadBlock
	}
	b.format, b.count = int16(format), int32(count)
	b.firstAt = time.UnixMicro(first).UTC()
	b.lastAt = time.UnixMicro(first + int64(span)).UTC()
	b.terms = make([]int32, nterms)
	for i := range b.terms {
		b.terms[i] = int32(binary.LittleEndian.Uint32(src[off:]))
		off += 4
	}
	b.packets = bytes()
	if off > len(src) {
		return b, nil, errBadBlock
	}
	return b, src[off:], nil
}

// upgrade writes b again in the current format when it is of an older one.
// The same packets give the same block: its key and terms do not change.
func upgrade(b *block) error {
	if b.format == currentFormat {
		return nil
	}
	var d blockDecoder
	if err := d.reset(b.format, b.packets); err != nil {
		return err
	}
	pkts := make([]hepvault.Packet, 0, b.count)
	for d.more() {
		var p hepvault.Packet
		if err := d.next(&p); err != nil {
			return err
		}
		pkts = append(pkts, p)
	}
	nb := encodeBlocks(pkts)
	if len(nb) != 1 || !nb[0].firstAt.Equal(b.firstAt) || nb[0].firstID != b.firstID {
		return fmt.Errorf("%w: a block of format %d does not make one block again", errBadBlock, b.format)
	}
	*b = nb[0]
	return nil
}
