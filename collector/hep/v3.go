package hep

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// HEPv3 chunk types of vendor 0 (HEP3 spec, "Chunk types").
const (
	chunkFamily      = 0x0001 // uint8
	chunkProto       = 0x0002 // uint8
	chunkSrcIP4      = 0x0003 // 4 bytes
	chunkDstIP4      = 0x0004 // 4 bytes
	chunkSrcIP6      = 0x0005 // 16 bytes
	chunkDstIP6      = 0x0006 // 16 bytes
	chunkSrcPort     = 0x0007 // uint16
	chunkDstPort     = 0x0008 // uint16
	chunkTsSec       = 0x0009 // uint32
	chunkTsUsec      = 0x000a // uint32
	chunkProtoType   = 0x000b // uint8
	chunkCaptureID   = 0x000c // uint32
	chunkKeepAlive   = 0x000d // uint16
	chunkAuthKey     = 0x000e // bytes
	chunkPayload     = 0x000f // bytes
	chunkCompressed  = 0x0010 // bytes, gzip or zlib
	chunkCorrelation = 0x0011 // bytes
	chunkVLAN        = 0x0012 // uint16
	chunkNodeName    = 0x0013 // bytes
)

const (
	v3HeaderLen = 6 // "HEP3" · total length uint16
	chunkHdrLen = 6 // vendor uint16 · type uint16 · length uint16
)

var magicV3 = [4]byte{'H', 'E', 'P', '3'}

// decodeV3 decodes "HEP3" · total length · chunks, up to the total length.
func (d *Decoder) decodeV3(buf []byte, p *Packet) error {
	if len(buf) < v3HeaderLen {
		if k := min(len(buf), len(magicV3)); string(buf[:k]) == string(magicV3[:k]) {
			return fmt.Errorf("%w: %d bytes of a HEPv3 header", ErrShortPacket, len(buf))
		}
		return fmt.Errorf("%w: starts %q", ErrNotHEP, buf[:min(len(buf), len(magicV3))])
	}
	if [4]byte(buf[:4]) != magicV3 {
		return fmt.Errorf("%w: starts %q", ErrNotHEP, buf[:4])
	}
	total := int(binary.BigEndian.Uint16(buf[4:6]))
	if total < v3HeaderLen || total > len(buf) {
		return fmt.Errorf("%w: total length %d, datagram %d bytes", ErrBadLength, total, len(buf))
	}
	p.Version = 3

	var (
		payload    []byte
		hasPayload bool
		compressed bool
	)
	for rest := buf[v3HeaderLen:total]; len(rest) > 0; {
		if len(rest) < chunkHdrLen {
			return fmt.Errorf("%w: %d trailing bytes, short of a chunk header", ErrBadChunk, len(rest))
		}
		vendor := binary.BigEndian.Uint16(rest[0:2])
		typ := binary.BigEndian.Uint16(rest[2:4])
		n := int(binary.BigEndian.Uint16(rest[4:6]))
		if n < chunkHdrLen {
			return fmt.Errorf("%w: chunk 0x%04x: length %d under %d", ErrBadChunk, typ, n, chunkHdrLen)
		}
		if n > len(rest) {
			return fmt.Errorf("%w: chunk 0x%04x: length %d exceeds packet (%d bytes left)", ErrBadChunk, typ, n, len(rest))
		}
		data := rest[chunkHdrLen:n]
		rest = rest[n:]

		if vendor != 0 {
			p.VendorChunks++
			continue
		}
		// Fixed-size types are checked before use; a wrong size means the
		// agent and we disagree on the format, so trust nothing of it.
		if want := fixedSize(typ); want != 0 && len(data) != want {
			return fmt.Errorf("%w: chunk 0x%04x: %d data bytes, want %d", ErrBadChunk, typ, len(data), want)
		}
		switch typ {
		case chunkFamily:
			p.Family = data[0]
		case chunkProto:
			p.Proto = data[0]
		case chunkSrcIP4:
			p.SrcIP = netip.AddrFrom4([4]byte(data))
		case chunkDstIP4:
			p.DstIP = netip.AddrFrom4([4]byte(data))
		case chunkSrcIP6:
			p.SrcIP = netip.AddrFrom16([16]byte(data))
		case chunkDstIP6:
			p.DstIP = netip.AddrFrom16([16]byte(data))
		case chunkSrcPort:
			p.SrcPort = binary.BigEndian.Uint16(data)
		case chunkDstPort:
			p.DstPort = binary.BigEndian.Uint16(data)
		case chunkTsSec:
			p.TsSec = binary.BigEndian.Uint32(data)
		case chunkTsUsec:
			p.TsUsec = binary.BigEndian.Uint32(data)
		case chunkProtoType:
			p.ProtoType = data[0]
		case chunkCaptureID:
			// Per the spec; sngrep 1.6 writes its id little-endian and
			// arrives byte-swapped (HEP.md). Not guessed at here.
			p.CaptureID = binary.BigEndian.Uint32(data)
		case chunkKeepAlive:
			p.KeepAlive = binary.BigEndian.Uint16(data)
		case chunkAuthKey:
			p.AuthKey = data
		case chunkPayload, chunkCompressed:
			// The last payload chunk wins; inflate only that one, after
			// the whole packet is known to be well formed.
			payload, hasPayload, compressed = data, true, typ == chunkCompressed
		case chunkCorrelation:
			p.CorrelationID = data
		case chunkVLAN:
			p.VLAN = binary.BigEndian.Uint16(data)
		case chunkNodeName:
			p.NodeName = data
		default:
			p.UnknownChunks++
		}
	}
	if !hasPayload {
		return fmt.Errorf("%w: no chunk 0x000f or 0x0010", ErrNoPayload)
	}
	if compressed {
		out, err := d.inflate(payload)
		if err != nil {
			return err
		}
		payload = out
		p.Compressed = true
	}
	if len(payload) == 0 {
		return fmt.Errorf("%w: empty payload chunk", ErrNoPayload)
	}
	p.Payload = payload
	return nil
}

// fixedSize returns the data size of a fixed-size vendor-0 chunk type, or 0
// for variable-length and unknown types.
func fixedSize(typ uint16) int {
	switch typ {
	case chunkFamily, chunkProto, chunkProtoType:
		return 1
	case chunkSrcPort, chunkDstPort, chunkKeepAlive, chunkVLAN:
		return 2
	case chunkSrcIP4, chunkDstIP4, chunkTsSec, chunkTsUsec, chunkCaptureID:
		return 4
	case chunkSrcIP6, chunkDstIP6:
		return 16
	}
	return 0
}
