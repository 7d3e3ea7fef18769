package capture_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Helpers that write captures for tests: frames made with gopacket's
// serializers, files with pcapgo's writers.

type rec struct {
	ts      time.Time
	data    []byte
	origLen int // 0: len(data)
}

var (
	macA = net.HardwareAddr{0, 1, 2, 3, 4, 5}
	macB = net.HardwareAddr{0, 1, 2, 3, 4, 6}
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// ipLayers returns the Ethernet and IP layers from src to dst.
func ipLayers(src, dst netip.Addr, proto layers.IPProtocol) (*layers.Ethernet, gopacket.NetworkLayer, gopacket.SerializableLayer) {
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, ip
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}, ip, ip
}

func udpFrame(t *testing.T, src, dst netip.AddrPort, payload []byte) []byte {
	t.Helper()
	eth, nl, ip := ipLayers(src.Addr(), dst.Addr(), layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	udp.SetNetworkLayerForChecksum(nl)
	return serialize(t, eth, ip, udp, gopacket.Payload(payload))
}

type tcpFlags struct{ syn, ack, fin, rst bool }

func tcpFrame(t *testing.T, src, dst netip.AddrPort, seq uint32, fl tcpFlags, payload []byte) []byte {
	t.Helper()
	eth, nl, ip := ipLayers(src.Addr(), dst.Addr(), layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq,
		SYN: fl.syn, ACK: fl.ack, FIN: fl.fin, RST: fl.rst, Window: 65535}
	tcp.SetNetworkLayerForChecksum(nl)
	return serialize(t, eth, ip, tcp, gopacket.Payload(payload))
}

// writePcap writes recs as a classic pcap of link type lt.
func writePcap(t testing.TB, lt layers.LinkType, recs []rec) []byte {
	t.Helper()
	var b bytes.Buffer
	return writePcapTo(t, pcapgo.NewWriter(&b), &b, lt, recs)
}

// writePcapNanos writes recs as a classic pcap with nanosecond timestamps.
func writePcapNanos(t testing.TB, lt layers.LinkType, recs []rec) []byte {
	t.Helper()
	var b bytes.Buffer
	return writePcapTo(t, pcapgo.NewWriterNanos(&b), &b, lt, recs)
}

func writePcapTo(t testing.TB, w *pcapgo.Writer, b *bytes.Buffer, lt layers.LinkType, recs []rec) []byte {
	t.Helper()
	if err := w.WriteFileHeader(262144, lt); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		n := r.origLen
		if n == 0 {
			n = len(r.data)
		}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.data), Length: n}, r.data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// writePcapNG writes recs as pcapng with one interface of link type lt.
func writePcapNG(t testing.TB, lt layers.LinkType, recs []rec) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, lt)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.data), Length: len(r.data)}, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readRecs reads a pcap's records.
func readRecs(t testing.TB, data []byte) []rec {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []rec
	for {
		d, ci, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, rec{ts: ci.Timestamp, data: d})
	}
}

// rewrap replaces each Ethernet frame's link header by another link type's.
func rewrap(t testing.TB, recs []rec, header func(ip []byte) []byte) []rec {
	t.Helper()
	out := make([]rec, len(recs))
	for i, r := range recs {
		ip := r.data[14:]
		out[i] = rec{ts: r.ts, data: append(header(ip), ip...)}
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// bigEndian rewrites a little-endian classic pcap in big-endian byte order,
// as files written on SPARC or POWER are.
func bigEndian(le []byte) []byte {
	be := bytes.Clone(le)
	swap32 := func(off int) { binary.BigEndian.PutUint32(be[off:], binary.LittleEndian.Uint32(le[off:])) }
	swap16 := func(off int) { binary.BigEndian.PutUint16(be[off:], binary.LittleEndian.Uint16(le[off:])) }
	swap32(0)
	swap16(4)
	swap16(6)
	for _, off := range []int{8, 12, 16, 20} {
		swap32(off)
	}
	for off := 24; off+16 <= len(le); {
		n := int(binary.LittleEndian.Uint32(le[off+8:]))
		for i := 0; i < 16; i += 4 {
			swap32(off + i)
		}
		off += 16 + n
	}
	return be
}
