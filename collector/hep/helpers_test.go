package hep

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"testing"
)

// chunk is one HEPv3 chunk for hand-built test packets.
type chunk struct {
	vendor, typ uint16
	data        []byte
	length      int // on the wire; 0 means 6+len(data)
}

func ck(typ uint16, data ...byte) chunk { return chunk{typ: typ, data: data} }

func ckVendor(vendor, typ uint16, data ...byte) chunk {
	return chunk{vendor: vendor, typ: typ, data: data}
}

func ckU16(typ, v uint16) chunk { return ck(typ, byte(v>>8), byte(v)) }

func ckU32(typ uint16, v uint32) chunk { return ck(typ, binary.BigEndian.AppendUint32(nil, v)...) }

// hep3 builds "HEP3" · total length · chunks with a correct total length.
func hep3(chunks ...chunk) []byte {
	b := hep3Raw(chunks...)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
	return b
}

// hep3Raw is hep3 with the total length left 0, for tests that lie about it.
func hep3Raw(chunks ...chunk) []byte {
	b := []byte("HEP3\x00\x00")
	for _, c := range chunks {
		n := c.length
		if n == 0 {
			n = chunkHdrLen + len(c.data)
		}
		b = binary.BigEndian.AppendUint16(b, c.vendor)
		b = binary.BigEndian.AppendUint16(b, c.typ)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		b = append(b, c.data...)
	}
	return b
}

// withTotal overwrites the total length field of a HEPv3 packet.
func withTotal(b []byte, n int) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint16(b[4:6], uint16(n))
	return b
}

const testSIP = "OPTIONS sip:bob@example.com SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"

// kamailioChunks are the chunks Kamailio 5.6 sends, in its order, minus the
// payload.
func kamailioChunks() []chunk {
	return []chunk{
		ck(chunkFamily, FamilyIPv4),
		ck(chunkProto, 17),
		ck(chunkSrcIP4, 10, 0, 0, 1),
		ck(chunkDstIP4, 10, 0, 0, 2),
		ckU16(chunkSrcPort, 5060),
		ckU16(chunkDstPort, 5080),
		ckU32(chunkTsSec, 1795609907),
		ckU32(chunkTsUsec, 746644),
		ck(chunkProtoType, ProtoTypeSIP),
		ckU32(chunkCaptureID, 4242),
		ck(chunkAuthKey, []byte("fixture-hep-key")...),
	}
}

func kamailioPacket(extra ...chunk) []byte {
	cs := append(kamailioChunks(), extra...)
	return hep3(append(cs, ck(chunkPayload, []byte(testSIP)...))...)
}

func gzipped(tb testing.TB, s []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(s); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func zlibbed(tb testing.TB, s []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	if _, err := w.Write(s); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// v12 builds a HEPv1/v2 IPv4 packet the way Kamailio's siptrace does.
func v12(version byte, payload string) []byte {
	b := []byte{version, 16, FamilyIPv4, 17, 0x13, 0xc4, 0x13, 0xe2, 127, 0, 0, 1, 127, 0, 0, 2}
	if version == 2 {
		b = binary.LittleEndian.AppendUint32(b, 1795609948)
		b = binary.LittleEndian.AppendUint32(b, 258647)
		b = binary.LittleEndian.AppendUint16(b, 4242)
		b = append(b, 0, 0)
	}
	return append(b, payload...)
}

// decodeSentinels are the errors Decode wraps, one per failure.
var decodeSentinels = []error{ErrShortPacket, ErrNotHEP, ErrBadLength, ErrBadChunk, ErrNoPayload, ErrInflate}

// sentinelCount returns how many of decodeSentinels err wraps.
func sentinelCount(err error) int {
	n := 0
	for _, s := range decodeSentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	return n
}

// samePacket compares the fields AppendV3 carries, and the payload bytes.
func samePacket(a, b *Packet) bool {
	return a.Family == b.Family && a.Proto == b.Proto && a.ProtoType == b.ProtoType &&
		a.SrcIP == b.SrcIP && a.DstIP == b.DstIP && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort &&
		a.TsSec == b.TsSec && a.TsUsec == b.TsUsec && a.CaptureID == b.CaptureID &&
		a.KeepAlive == b.KeepAlive && a.VLAN == b.VLAN &&
		bytes.Equal(a.AuthKey, b.AuthKey) && bytes.Equal(a.Payload, b.Payload) &&
		bytes.Equal(a.CorrelationID, b.CorrelationID) && bytes.Equal(a.NodeName, b.NodeName)
}
