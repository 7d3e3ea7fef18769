package hep

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// MaxV3Len is the largest HEPv3 packet: the total length field is a uint16.
const MaxV3Len = 0xffff

// AppendV3 appends p encoded as a HEPv3 packet to dst and returns the
// extended slice. It writes vendor-0 chunks in Kamailio's order: 0x0001,
// 0x0002, the addresses (0x0003/0x0004 for IPv4, 0x0005/0x0006 for IPv6,
// each omitted when invalid), 0x0007…0x000c, then 0x000d, 0x000e, 0x0011,
// 0x0012 and 0x0013 when set, and the payload last as 0x000f. Version,
// Compressed and the chunk counters are ignored. Decode(AppendV3(p)) gives
// back p's fields.
//
// It is meant for tests and load generation, not the hot path. It panics
// when the packet would exceed MaxV3Len; check with V3Len first when the
// payload size is not under control.
func AppendV3(dst []byte, p *Packet) []byte {
	n := V3Len(p)
	if n > MaxV3Len {
		panic(fmt.Sprintf("hep: AppendV3: packet of %d bytes exceeds %d", n, MaxV3Len))
	}
	dst = append(dst, magicV3[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = appendU8(dst, chunkFamily, p.Family)
	dst = appendU8(dst, chunkProto, p.Proto)
	if p.SrcIP.Is4() {
		a := p.SrcIP.As4()
		dst = appendChunk(dst, chunkSrcIP4, a[:])
	} else if p.SrcIP.IsValid() {
		a := p.SrcIP.As16()
		dst = appendChunk(dst, chunkSrcIP6, a[:])
	}
	if p.DstIP.Is4() {
		a := p.DstIP.As4()
		dst = appendChunk(dst, chunkDstIP4, a[:])
	} else if p.DstIP.IsValid() {
		a := p.DstIP.As16()
		dst = appendChunk(dst, chunkDstIP6, a[:])
	}
	dst = appendU16(dst, chunkSrcPort, p.SrcPort)
	dst = appendU16(dst, chunkDstPort, p.DstPort)
	dst = appendU32(dst, chunkTsSec, p.TsSec)
	dst = appendU32(dst, chunkTsUsec, p.TsUsec)
	dst = appendU8(dst, chunkProtoType, p.ProtoType)
	dst = appendU32(dst, chunkCaptureID, p.CaptureID)
	if p.KeepAlive != 0 {
		dst = appendU16(dst, chunkKeepAlive, p.KeepAlive)
	}
	if len(p.AuthKey) > 0 {
		dst = appendChunk(dst, chunkAuthKey, p.AuthKey)
	}
	if len(p.CorrelationID) > 0 {
		dst = appendChunk(dst, chunkCorrelation, p.CorrelationID)
	}
	if p.VLAN != 0 {
		dst = appendU16(dst, chunkVLAN, p.VLAN)
	}
	if len(p.NodeName) > 0 {
		dst = appendChunk(dst, chunkNodeName, p.NodeName)
	}
	return appendChunk(dst, chunkPayload, p.Payload)
}

// V3Len returns the size of AppendV3's encoding of p. It may exceed
// MaxV3Len, in which case p cannot be encoded.
func V3Len(p *Packet) int {
	n := v3HeaderLen + 2*(chunkHdrLen+1) + // 0x0001, 0x0002
		2*(chunkHdrLen+2) + // ports
		3*(chunkHdrLen+4) + // time, capture id
		chunkHdrLen + 1 + // 0x000b
		chunkHdrLen + len(p.Payload)
	n += addrChunkLen(p.SrcIP) + addrChunkLen(p.DstIP)
	if p.KeepAlive != 0 {
		n += chunkHdrLen + 2
	}
	if p.VLAN != 0 {
		n += chunkHdrLen + 2
	}
	for _, b := range [...][]byte{p.AuthKey, p.CorrelationID, p.NodeName} {
		if len(b) > 0 {
			n += chunkHdrLen + len(b)
		}
	}
	return n
}

// addrChunkLen is the size of the address chunk AppendV3 writes for a.
func addrChunkLen(a netip.Addr) int {
	switch {
	case a.Is4():
		return chunkHdrLen + 4
	case a.IsValid():
		return chunkHdrLen + 16
	}
	return 0
}

// appendChunk appends one vendor-0 chunk. Callers keep len(data) within
// MaxV3Len (AppendV3 checks the whole packet first).
func appendChunk(dst []byte, typ uint16, data []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, uint16(chunkHdrLen+len(data)))
	return append(dst, data...)
}

func appendU8(dst []byte, typ uint16, v uint8) []byte {
	return appendChunk(dst, typ, []byte{v})
}

func appendU16(dst []byte, typ uint16, v uint16) []byte {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return appendChunk(dst, typ, b[:])
}

func appendU32(dst []byte, typ uint16, v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return appendChunk(dst, typ, b[:])
}
