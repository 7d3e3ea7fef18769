package hep

import (
	"net/netip"
	"time"
)

// Values of Packet.Family (chunk 0x0001, and byte 2 of the v1/v2 header).
const (
	FamilyIPv4 = 2
	FamilyIPv6 = 10
)

// ProtoTypeSIP is the Packet.ProtoType (chunk 0x000b) of a SIP payload.
const ProtoTypeSIP = 1

// Packet is one decoded HEP packet. Decode overwrites every field.
//
// The byte-slice fields alias the buffer given to Decode, except Payload
// when Compressed is set, which aliases the Decoder's inflate buffer: they
// stay valid until that buffer is reused or the next Decode, whichever
// comes first. Copy what must outlive them.
type Packet struct {
	Version   uint8 // 1, 2 or 3
	Family    uint8 // FamilyIPv4 or FamilyIPv6 as sent (chunk 0x0001); not checked against the addresses
	Proto     uint8 // IP protocol the payload travelled on: 6 TCP, 17 UDP, 132 SCTP (chunk 0x0002)
	ProtoType uint8 // payload type, ProtoTypeSIP for SIP (chunk 0x000b); v1/v2 carry SIP only and get ProtoTypeSIP

	SrcIP, DstIP     netip.Addr // chunks 0x0003/0x0004 (IPv4) or 0x0005/0x0006 (IPv6)
	SrcPort, DstPort uint16     // chunks 0x0007/0x0008

	// Capture time (chunks 0x0009/0x000a; the v2 time header). Both are 0
	// for HEPv1, which carries no time: the caller uses its receive time.
	TsSec, TsUsec uint32

	CaptureID uint32 // agent id (chunk 0x000c; v2: the 16-bit id of the time header)
	KeepAlive uint16 // keep-alive timer (chunk 0x000d)
	VLAN      uint16 // VLAN id (chunk 0x0012)

	AuthKey       []byte // agent password (chunk 0x000e)
	Payload       []byte // captured message (chunk 0x000f, or 0x0010 inflated); never empty when Decode succeeds
	CorrelationID []byte // chunk 0x0011
	NodeName      []byte // chunk 0x0013

	Compressed bool // Payload came from chunk 0x0010 and was inflated

	VendorChunks  int // chunks of a vendor other than 0, skipped
	UnknownChunks int // vendor-0 chunks of a type not in the table, skipped
}

// Reset clears p for reuse.
func (p *Packet) Reset() { *p = Packet{} }

// Time returns the capture time in UTC with microsecond precision. For HEPv1
// (TsSec 0) it is the Unix epoch: check TsSec first.
func (p *Packet) Time() time.Time {
	return time.Unix(int64(p.TsSec), int64(p.TsUsec)*int64(time.Microsecond)).UTC()
}
