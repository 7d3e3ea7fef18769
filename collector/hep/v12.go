package hep

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// HEPv1/v2 as Kamailio's sipcapture hep.h lays it out:
//
//	hep_hdr:     version u8 · header length u8 · family u8 · protocol u8 ·
//	             source port u16 · destination port u16          (8 bytes)
//	addresses:   source · destination, 4 or 16 bytes each
//	hep_timehdr: (v2 only) tv_sec u32 · tv_usec u32 · capture id u16 · pad u16
//	payload:     to the end of the datagram
//
// The header length byte counts hep_hdr and the addresses (16 for IPv4, 40
// for IPv6; the fixtures carry 16), not the time header. Ports are network
// order; the time header is in the sender's host order, little-endian from
// Kamailio on x86 (checked against the fixture truth).
const (
	v12HdrLen = 8
	v2TimeLen = 12
	v12Len4   = v12HdrLen + 2*4
	v12Len6   = v12HdrLen + 2*16
)

// decodeV12 decodes a HEPv1 or HEPv2 packet; buf[0] is 1 or 2.
func decodeV12(buf []byte, p *Packet) error {
	if len(buf) < v12HdrLen {
		return fmt.Errorf("%w: %d bytes of a HEPv%d header", ErrShortPacket, len(buf), buf[0])
	}
	var hl int
	switch buf[2] {
	case FamilyIPv4:
		hl = v12Len4
	case FamilyIPv6:
		hl = v12Len6
	default:
		// A first byte of 1 or 2 is weak evidence: without a known family
		// this is most likely not HEP at all.
		return fmt.Errorf("%w: HEPv%d with address family %d", ErrNotHEP, buf[0], buf[2])
	}
	if int(buf[1]) != hl {
		return fmt.Errorf("%w: HEPv%d header length %d, family %d needs %d", ErrBadLength, buf[0], buf[1], buf[2], hl)
	}
	end := hl
	if buf[0] == 2 {
		end += v2TimeLen
	}
	if len(buf) < end {
		return fmt.Errorf("%w: %d bytes, HEPv%d header needs %d", ErrShortPacket, len(buf), buf[0], end)
	}

	p.Version = buf[0]
	p.Family = buf[2]
	p.Proto = buf[3]
	p.ProtoType = ProtoTypeSIP // v1/v2 carry nothing but SIP
	p.SrcPort = binary.BigEndian.Uint16(buf[4:6])
	p.DstPort = binary.BigEndian.Uint16(buf[6:8])
	if buf[2] == FamilyIPv4 {
		p.SrcIP = netip.AddrFrom4([4]byte(buf[8:12]))
		p.DstIP = netip.AddrFrom4([4]byte(buf[12:16]))
	} else {
		p.SrcIP = netip.AddrFrom16([16]byte(buf[8:24]))
		p.DstIP = netip.AddrFrom16([16]byte(buf[24:40]))
	}
	if buf[0] == 2 {
		t := buf[hl:end]
		p.TsSec = binary.LittleEndian.Uint32(t[0:4])
		p.TsUsec = binary.LittleEndian.Uint32(t[4:8])
		p.CaptureID = uint32(binary.LittleEndian.Uint16(t[8:10]))
	}
	p.Payload = buf[end:]
	if len(p.Payload) == 0 {
		p.Payload = nil
		return fmt.Errorf("%w: HEPv%d header only", ErrNoPayload, buf[0])
	}
	return nil
}
