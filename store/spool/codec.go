package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hepvault/hepvault"
)

// errShort is returned when an encoded batch ends in the middle of a field.
var errShort = errors.New("spool: encoded batch ends early")

// AppendBatch appends the encoding of pkts to dst and returns the extended
// slice: a uvarint count, then each packet, every field of hepvault.Packet in
// declaration order (integers as varints, strings and Raw length-prefixed).
// DecodeBatch is its inverse.
func AppendBatch(dst []byte, pkts []hepvault.Packet) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(pkts)))
	for i := range pkts {
		dst = appendPacket(dst, &pkts[i])
	}
	return dst
}

func appendPacket(b []byte, p *hepvault.Packet) []byte {
	b = binary.AppendVarint(b, p.ID)
	b = appendTime(b, p.CapturedAt)
	b = appendTime(b, p.ReceivedAt)
	b = binary.AppendUvarint(b, uint64(p.CaptureID))
	b = append(b, p.HEPVersion, p.ProtoType)
	b = appendString(b, p.CorrelationID)
	b = appendAddr(b, p.SrcIP)
	b = binary.AppendUvarint(b, uint64(p.SrcPort))
	b = appendAddr(b, p.DstIP)
	b = binary.AppendUvarint(b, uint64(p.DstPort))
	b = append(b, byte(p.Transport), kindByte(p))
	b = appendString(b, p.InvalidReason)
	b = appendString(b, p.Method)
	b = appendString(b, p.RequestURI)
	b = binary.AppendVarint(b, int64(p.StatusCode))
	b = appendString(b, p.Reason)
	b = appendString(b, p.CallID)
	b = binary.AppendUvarint(b, uint64(p.CSeq))
	for _, s := range [...]string{p.CSeqMethod, p.FromURI, p.FromTag, p.ToURI, p.ToTag, p.ViaBranch, p.UserAgent, p.Contact, p.ContentType} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Raw)))
	return append(b, p.Raw...)
}

// appendTime writes a presence byte, then Unix seconds and nanoseconds, so
// the zero time (outside UnixNano's range) comes back as the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// appendAddr writes the address length (0 for no address, 4 or 16; an
// IPv4-mapped IPv6 address stays 16 bytes), the bytes, and for IPv6 the zone.
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, 0)
	}
	s := a.AsSlice()
	b = append(b, byte(len(s)))
	b = append(b, s...)
	if a.Is6() {
		b = appendString(b, a.Zone())
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeBatch decodes what AppendBatch wrote. The packets' Raw fields alias
// buf: buf must not be changed while they are in use. Times come back in UTC.
func DecodeBatch(buf []byte) ([]hepvault.Packet, error) {
	d := decoder{buf: buf}
	n := d.uvarint()
	// Each packet takes at least a few bytes: a count larger than the
	// buffer is damage, not a reason to allocate.
	if d.err != nil || n > uint64(len(buf)) {
		return nil, fmt.Errorf("spool: bad packet count %d: %w", n, errShort)
	}
	pkts := make([]hepvault.Packet, n)
	for i := range pkts {
		d.packet(&pkts[i])
		if d.err != nil {
			return nil, fmt.Errorf("spool: packet %d of %d: %w", i, n, d.err)
		}
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("spool: %d bytes left after %d packets", len(d.buf), n)
	}
	return pkts, nil
}

// decoder reads fields off buf; after the first error every read returns
// zero and err stays set, so callers check once at the end.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) packet(p *hepvault.Packet) {
	p.ID = d.varint()
	p.CapturedAt = d.time()
	p.ReceivedAt = d.time()
	p.CaptureID = uint32(d.uvarint())
	p.HEPVersion = d.byte()
	p.ProtoType = d.byte()
	p.CorrelationID = d.string()
	p.SrcIP = d.addr()
	p.SrcPort = uint16(d.uvarint())
	p.DstIP = d.addr()
	p.DstPort = uint16(d.uvarint())
	p.Transport = hepvault.Transport(d.byte())
	p.Kind, p.HeadersFromRaw = fromKindByte(d.byte())
	p.InvalidReason = d.string()
	p.Method = d.string()
	p.RequestURI = d.string()
	p.StatusCode = int(d.varint())
	p.Reason = d.string()
	p.CallID = d.string()
	p.CSeq = uint32(d.uvarint())
	for _, s := range [...]*string{&p.CSeqMethod, &p.FromURI, &p.FromTag, &p.ToURI, &p.ToTag, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType} {
		*s = d.string()
	}
	if raw := d.bytes(); len(raw) > 0 {
		p.Raw = raw[:len(raw):len(raw)] // an append to Raw must not overwrite the next packet
	}
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.buf = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.buf) < 1 {
		d.fail()
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail()
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) addr() netip.Addr {
	switch n := d.byte(); n {
	case 0:
		return netip.Addr{}
	case 4:
		if len(d.buf) < 4 {
			d.fail()
			return netip.Addr{}
		}
		a := netip.AddrFrom4([4]byte(d.buf[:4]))
		d.buf = d.buf[4:]
		return a
	case 16:
		if len(d.buf) < 16 {
			d.fail()
			return netip.Addr{}
		}
		a := netip.AddrFrom16([16]byte(d.buf[:16]))
		d.buf = d.buf[16:]
		if zone := d.string(); zone != "" {
			a = a.WithZone(zone)
		}
		return a
	default:
		d.fail()
		return netip.Addr{}
	}
}

// headersFromRawBit carries Packet.HeadersFromRaw in the high bit of the
// Kind byte (kinds are small numbers), so segments written before the flag
// existed still decode, with the flag false, and the format version stays.
const headersFromRawBit = 0x80

func kindByte(p *hepvault.Packet) byte {
	b := byte(p.Kind)
	if p.HeadersFromRaw {
		b |= headersFromRawBit
	}
	return b
}

func fromKindByte(b byte) (hepvault.Kind, bool) {
	return hepvault.Kind(b &^ headersFromRawBit), b&headersFromRawBit != 0
}
