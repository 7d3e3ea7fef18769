package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/sha256x16"
)

// A seal proves a day's packets by the hash of each packet's stored fields
// (PacketDigest), not of the bytes PostgreSQL holds: a new block format, a
// dump and restore or a change of compression leaves every seal valid.
//
// The canonical encoding (version 2), which an auditor can rebuild, holds
// the fields in the order of the type packet_v1's columns, so that it is
// written in one pass over a packet as PostgreSQL holds it:
//
//	0x02                         version
//	captured_at                  int64 microseconds since 1970 UTC, big-endian
//	id                           int64, big-endian
//	received_at                  int64 microseconds since 1970 UTC
//	capture_id                   uint32
//	hep_version, proto_type      uint8 each
//	correlation_id               string
//	src_ip                       address, then src_port uint16
//	dst_ip                       address, then dst_port uint16
//	transport, kind              uint8 each
//	invalid_reason, method, request_uri   strings
//	status_code                  int32 (0: none)
//	reason, call_id              strings
//	cseq                         uint32
//	cseq_method, from_uri, from_tag, from_user, to_uri, to_tag, to_user,
//	ruri_user, pai_user, via_branch, user_agent, contact, content_type   strings
//	raw                          string
//	correlation_header           string
//
// A string is its length as uint32 big-endian, then its bytes (absent: 0);
// an address its length (0, 4 or 16) as one byte, then its bytes.
const canonicalVersion = 2

// digestFields names the fields of hepvault.Packet the canonical encoding
// holds; digestExcluded those left out on purpose, with why. A field in
// neither fails TestPacketDigest_EveryField, so a new field cannot be
// forgotten by the seals.
var (
	digestFields = []string{"ID", "CapturedAt", "ReceivedAt", "CaptureID", "HEPVersion", "ProtoType",
		"CorrelationID", "CorrelationHeader", "SrcIP", "SrcPort", "DstIP", "DstPort", "Transport", "Kind", "InvalidReason",
		"Method", "RequestURI", "StatusCode", "Reason", "CallID", "CSeq", "CSeqMethod", "FromURI",
		"FromTag", "ToURI", "ToTag", "FromUser", "ToUser", "RURIUser", "PAIUser", "ViaBranch",
		"UserAgent", "Contact", "ContentType", "Raw"}
	digestExcluded = map[string]string{}
)

// Hash is a SHA-256 digest: a packet's leaf, a node of a day's tree, a seal's
// root.
type Hash = [sha256.Size]byte

// Prefixes that keep a leaf from passing for a node (RFC 6962 §2.1).
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// AppendCanonical appends the canonical encoding of p's stored fields.
func AppendCanonical(b []byte, p *hepvault.Packet) []byte {
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	addr := func(a netip.Addr) {
		if !a.IsValid() {
			b = append(b, 0)
			return
		}
		s := a.AsSlice()
		b = append(append(b, byte(len(s))), s...)
	}
	b = append(b, canonicalVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(p.CapturedAt.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(p.ID))
	b = binary.BigEndian.AppendUint64(b, uint64(p.ReceivedAt.UnixMicro()))
	b = binary.BigEndian.AppendUint32(b, p.CaptureID)
	b = append(b, p.HEPVersion, p.ProtoType)
	str(p.CorrelationID)
	addr(p.SrcIP)
	b = binary.BigEndian.AppendUint16(b, p.SrcPort)
	addr(p.DstIP)
	b = binary.BigEndian.AppendUint16(b, p.DstPort)
	b = append(b, byte(p.Transport), byte(p.Kind))
	str(p.InvalidReason)
	str(p.Method)
	str(p.RequestURI)
	b = binary.BigEndian.AppendUint32(b, uint32(int32(p.StatusCode)))
	str(p.Reason)
	str(p.CallID)
	b = binary.BigEndian.AppendUint32(b, p.CSeq)
	for _, s := range [...]string{p.CSeqMethod, p.FromURI, p.FromTag, p.FromUser, p.ToURI, p.ToTag, p.ToUser,
		p.RURIUser, p.PAIUser, p.ViaBranch, p.UserAgent, p.Contact, p.ContentType} {
		str(s)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Raw)))
	b = append(b, p.Raw...)
	str(p.CorrelationHeader)
	return b
}

// ErrBadCanonical: bytes that are not a canonical packet encoding.
var ErrBadCanonical = errors.New("store: not a canonical packet encoding")

// DecodeCanonical reads what AppendCanonical wrote; the packet's strings
// and Raw are copies. Encoding the packet again gives b.
func DecodeCanonical(b []byte) (hepvault.Packet, error) {
	var p hepvault.Packet
	off, ok := 0, true
	need := func(n int) []byte {
		if !ok || n < 0 || len(b)-off < n {
			ok = false
			return make([]byte, n&0xFFFF)
		}
		v := b[off : off+n]
		off += n
		return v
	}
	u8 := func() uint8 { return need(1)[0] }
	u16 := func() uint16 { return binary.BigEndian.Uint16(need(2)) }
	u32 := func() uint32 { return binary.BigEndian.Uint32(need(4)) }
	u64 := func() uint64 { return binary.BigEndian.Uint64(need(8)) }
	str := func() string {
		n := u32()
		if !ok || uint64(n) > uint64(len(b)-off) {
			ok = false
			return ""
		}
		return string(need(int(n)))
	}
	addr := func() netip.Addr {
		switch n := u8(); n {
		case 0:
			return netip.Addr{}
		case 4, 16:
			a, _ := netip.AddrFromSlice(need(int(n)))
			return a
		}
		ok = false
		return netip.Addr{}
	}
	if u8() != canonicalVersion || !ok {
		return p, fmt.Errorf("%w: unknown version", ErrBadCanonical)
	}
	p.CapturedAt = time.UnixMicro(int64(u64())).UTC()
	p.ID = int64(u64())
	p.ReceivedAt = time.UnixMicro(int64(u64())).UTC()
	p.CaptureID = u32()
	p.HEPVersion, p.ProtoType = u8(), u8()
	p.CorrelationID = str()
	p.SrcIP, p.SrcPort = addr(), u16()
	p.DstIP, p.DstPort = addr(), u16()
	p.Transport, p.Kind = hepvault.Transport(u8()), hepvault.Kind(u8())
	p.InvalidReason, p.Method, p.RequestURI = str(), str(), str()
	p.StatusCode = int(int32(u32()))
	p.Reason, p.CallID = str(), str()
	p.CSeq = u32()
	for _, f := range [...]*string{&p.CSeqMethod, &p.FromURI, &p.FromTag, &p.FromUser, &p.ToURI, &p.ToTag, &p.ToUser,
		&p.RURIUser, &p.PAIUser, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType} {
		*f = str()
	}
	p.Raw = []byte(str())
	p.CorrelationHeader = str()
	if !ok {
		return hepvault.Packet{}, fmt.Errorf("%w: truncated or malformed", ErrBadCanonical)
	}
	if off != len(b) {
		return hepvault.Packet{}, fmt.Errorf("%w: %d bytes past the end", ErrBadCanonical, len(b)-off)
	}
	return p, nil
}

// canonicalColumns says how each column of packet_v1, in order, goes into
// the canonical encoding: a time, an integer within [lo, hi] written in
// size bytes, an address, or a string. packet reads its integers in these
// ranges too, so that every writer takes and refuses the same packets.
var canonicalColumns = func() (c [numMetaColumns]canonicalColumn) {
	for i, m := range metaColumns {
		switch m.oid {
		case oidTimestamptz:
			c[i].kind = canonTime
		case oidInet:
			c[i].kind = canonInet
		case oidInt8, oidInt4, oidInt2:
			c[i].kind = canonInt
		default:
			c[i].kind = canonText
		}
	}
	ints := map[int]canonicalColumn{
		colID:         {canonInt, math.MinInt64, math.MaxInt64, 8},
		colCaptureID:  {canonInt, 0, math.MaxUint32, 4},
		colHEPVersion: {canonInt, 0, math.MaxUint8, 1},
		colProtoType:  {canonInt, 0, math.MaxUint8, 1},
		colSrcPort:    {canonInt, 0, math.MaxUint16, 2},
		colDstPort:    {canonInt, 0, math.MaxUint16, 2},
		colTransport:  {canonInt, 0, math.MaxUint8, 1},
		colKind:       {canonInt, 0, math.MaxUint8, 1},
		colStatusCode: {canonInt, math.MinInt16, math.MaxInt16, 4},
		colCSeq:       {canonInt, 0, math.MaxUint32, 4},
	}
	for i := range c {
		if c[i].kind == canonInt {
			c[i] = ints[i] // a new integer column without a range has size 0: TestCanonicalOfColumns fails
		}
	}
	return c
}()

type canonicalColumn struct {
	kind   uint8
	lo, hi int64
	size   int
}

const (
	canonText = iota
	canonTime
	canonInt
	canonInet
)

// appendCanonical appends the canonical encoding of the packet d has just
// split (blockDecoder.split), as AppendCanonical writes that of the packet
// d.packet builds, without building it: sealing and verify need only the
// leaf. It returns the packet's id and capture time (microseconds).
// TestCanonicalOfColumns holds the two to the same bytes.
func (d *blockDecoder) appendCanonical(b []byte) (out []byte, id, capturedAt int64, err error) {
	ok := true
	b = append(b, canonicalVersion)
	for i := range canonicalColumns {
		c := &canonicalColumns[i]
		switch c.kind {
		case canonTime:
			us, null := d.micro(i, &ok)
			if null {
				us = zeroTimeMicro
			}
			if i == colCapturedAt {
				capturedAt = us
			}
			b = binary.BigEndian.AppendUint64(b, uint64(us))
		case canonInt:
			n := d.num(i, c.lo, c.hi, &ok)
			if i == colID {
				id = n
			}
			b = appendInt(b, n, c.size)
		case canonInet:
			a := d.inet(i, &ok)
			s := a.AsSlice()
			b = append(append(b, byte(len(s))), s...)
		default:
			v := d.cols[i]
			if d.null[i] {
				v = nil
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
	}
	if !ok {
		return b, 0, 0, errBadBlock
	}
	return b, id, capturedAt, nil
}

// appendInt appends n's low size bytes, big-endian.
func appendInt(b []byte, n int64, size int) []byte {
	switch size {
	case 8:
		return binary.BigEndian.AppendUint64(b, uint64(n))
	case 4:
		return binary.BigEndian.AppendUint32(b, uint32(n))
	case 2:
		return binary.BigEndian.AppendUint16(b, uint16(n))
	}
	return append(b, byte(n))
}

// zeroTimeMicro is what a NULL time is in the canonical encoding: the
// zero time.Time's UnixMicro.
var zeroTimeMicro = time.Time{}.UnixMicro()

// LeafHash is the leaf of a canonical encoding: SHA-256(0x00 || canonical).
func LeafHash(canonical []byte) Hash {
	h := sha256.New()
	h.Write([]byte{leafPrefix})
	h.Write(canonical)
	var out Hash
	h.Sum(out[:0])
	return out
}

// PacketDigest is the leaf of p in its day's tree: the hash of its stored
// fields' canonical encoding. Seals, verify and exports all use it.
func PacketDigest(p *hepvault.Packet) Hash {
	return LeafHash(AppendCanonical(nil, p))
}

// leafHasher computes the PacketDigest of many packets at once: sealing
// and verifying a day hash a block's packets together (sha256x16 says why).
type leafHasher struct{ b sha256x16.Batch }

// add appends p's leaf to those sum computes.
func (h *leafHasher) add(p *hepvault.Packet) {
	h.b.Begin()
	h.b.Buf = AppendCanonical(append(h.b.Buf, leafPrefix), p)
	h.b.End()
}

// addNext appends the leaf of dec's next packet, without building it; it
// returns the packet's id and capture time (microseconds).
func (h *leafHasher) addNext(dec *blockDecoder) (id, capturedAt int64, err error) {
	h.b.Begin()
	h.b.Buf, id, capturedAt, err = dec.nextCanonical(append(h.b.Buf, leafPrefix))
	h.b.End()
	return id, capturedAt, err
}

// sum appends the leaves of the packets added since the last sum to dst,
// in the order added.
func (h *leafHasher) sum(dst []Hash) []Hash {
	dst = h.b.Sum(dst)
	h.b.Reset()
	return dst
}

// nodeHash is an inner node: SHA-256(0x01 || left || right).
func nodeHash(l, r *Hash) Hash {
	var b [1 + 2*sha256.Size]byte
	b[0] = nodePrefix
	copy(b[1:], l[:])
	copy(b[1+sha256.Size:], r[:])
	return sha256.Sum256(b[:])
}
