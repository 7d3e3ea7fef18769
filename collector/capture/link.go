package capture

import (
	"encoding/binary"

	"github.com/google/gopacket/layers"
)

// Link types this package reads (https://www.tcpdump.org/linktypes.html).
// LINKTYPE_LINUX_SLL2 (276, what tcpdump -i any writes since libpcap 1.10)
// has no constant in gopacket 1.1.19, whose LinkType is a uint8: its readers
// hand it over as 276&0xff = 20, a number no other link type uses.
const (
	linkTypeLinuxSLL2 layers.LinkType = 276 & 0xff
	linkTypeIPv4      layers.LinkType = 228
	linkTypeIPv6      layers.LinkType = 229
	linkTypeRawAlt    layers.LinkType = 12 // DLT_RAW as OpenBSD numbers it; files from there keep it
)

// EtherTypes of the frames that carry IP, and of VLAN tags.
const (
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86dd
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88a8
	etherTypeQinQ9 = 0x9100
)

// supportedLink reports whether network can strip the link layer of lt.
func supportedLink(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, linkTypeLinuxSLL2, layers.LinkTypeNull,
		layers.LinkTypeLoop, layers.LinkTypeRaw, linkTypeRawAlt, linkTypeIPv4, linkTypeIPv6:
		return true
	}
	return false
}

// network returns the IP packet in a frame of link type lt, or the reason
// there is none. It reads the few link headers by hand: they are fixed
// layouts, and it saves decoding layers that are thrown away.
func network(lt layers.LinkType, frame []byte) ([]byte, Reason, bool) {
	var etherType uint16
	switch lt {
	case layers.LinkTypeEthernet:
		// dst(6) src(6) type(2), then any 802.1Q/802.1ad tags (4 each).
		if len(frame) < 14 {
			return nil, ReasonTruncated, false
		}
		etherType, frame = binary.BigEndian.Uint16(frame[12:14]), frame[14:]
		for etherType == etherTypeVLAN || etherType == etherTypeQinQ || etherType == etherTypeQinQ9 {
			if len(frame) < 4 {
				return nil, ReasonTruncated, false
			}
			etherType, frame = binary.BigEndian.Uint16(frame[2:4]), frame[4:]
		}
	case layers.LinkTypeLinuxSLL:
		// packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
		if len(frame) < 16 {
			return nil, ReasonTruncated, false
		}
		etherType, frame = binary.BigEndian.Uint16(frame[14:16]), frame[16:]
	case linkTypeLinuxSLL2:
		// protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
		if len(frame) < 20 {
			return nil, ReasonTruncated, false
		}
		etherType, frame = binary.BigEndian.Uint16(frame[0:2]), frame[20:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		// A 4-byte address family, in the writer's byte order for Null and
		// network order for Loop, and AF_INET6 differs between systems:
		// the IP version nibble that follows says it all.
		if len(frame) < 4 {
			return nil, ReasonTruncated, false
		}
		return ipVersion(frame[4:])
	case layers.LinkTypeRaw, linkTypeRawAlt, linkTypeIPv4, linkTypeIPv6:
		return ipVersion(frame)
	default:
		return nil, ReasonLinkType, false
	}
	switch etherType {
	case etherTypeIPv4, etherTypeIPv6:
		return frame, 0, true
	}
	return nil, ReasonNotIP, false
}

func ipVersion(pkt []byte) ([]byte, Reason, bool) {
	if len(pkt) == 0 {
		return nil, ReasonTruncated, false
	}
	switch pkt[0] >> 4 {
	case 4, 6:
		return pkt, 0, true
	}
	return nil, ReasonNotIP, false
}
