package pcapout

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hepvault/hepvault"
)

// ContentType is the media type of a pcap file, as registered with IANA.
const ContentType = "application/vnd.tcpdump.pcap"

// Snaplen is the snapshot length written in the file header: larger than
// any frame the Writer makes, so no frame is ever marked truncated.
const Snaplen = 262144

// The largest payload one frame carries. A TCP segment must fit the IPv4
// total length (65,535 minus 20 bytes of IP and 20 of TCP header); a UDP
// datagram the UDP length field and the IPv4 total length alike. A longer
// Raw is split over several frames: TCP segments with consecutive
// sequence numbers, which tshark reassembles, or, for UDP, datagrams that
// carry consecutive slices (no real SIP over UDP is that long).
const (
	MaxTCPPayload = 65535 - 20 - 20
	MaxUDPPayload = 65535 - 20 - 8
)

// Placeholder addresses stand in for an address the capture agent did not
// send (a HEP packet without the IP chunks): the unspecified address of
// the packet's family, so the frame is still written, in its place, and
// reads as "no address" rather than as some host's.
var (
	PlaceholderIPv4 = netip.IPv4Unspecified()
	PlaceholderIPv6 = netip.IPv6Unspecified()
)

// Locally administered MAC addresses: the Ethernet header is made up, only
// the IP layer and above come from the capture.
var (
	srcMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	dstMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

type flowKey struct{ src, dst netip.AddrPort }

// Writer writes packets as a pcap stream (link type Ethernet, microsecond
// timestamps: CapturedAt has microseconds). It keeps the sequence numbers
// of the TCP flows it has written, so one Writer must write one file.
type Writer struct {
	w    *pcapgo.Writer
	seq  map[flowKey]uint32 // next sequence number per TCP flow
	ipID uint16
	buf  gopacket.SerializeBuffer
}

// NewWriter writes the pcap file header to w and returns a Writer for the
// frames.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("pcapout: writing the file header: %w", err)
	}
	return &Writer{w: pw, seq: map[flowKey]uint32{}, buf: gopacket.NewSerializeBuffer()}, nil
}

// Write writes every packet in order to w as one pcap file.
func Write(w io.Writer, pkts []hepvault.Packet) error {
	pw, err := NewWriter(w)
	if err != nil {
		return err
	}
	for i := range pkts {
		if err := pw.Write(&pkts[i]); err != nil {
			return err
		}
	}
	return nil
}

// Write writes one packet: one frame, or several when Raw is longer than
// one frame carries (MaxTCPPayload, MaxUDPPayload).
//
// Transport TCP is written as TCP, PSH|ACK, each flow (source ip:port to
// destination ip:port) numbering its bytes from 1 so that tshark reads the
// messages of a flow as one stream; its acknowledgement number is the next
// byte of the opposite flow. TLS arrives as TCP (the agent sent the
// decrypted message, with IP protocol 6), so it is written as TCP too.
// Every other transport (UDP, SCTP, unknown protocol numbers) is written as
// UDP: one message per datagram, as SCTP carries it. A missing address is
// written as PlaceholderIPv4 or PlaceholderIPv6; when one address is IPv6
// and the other IPv4, the IPv4 one is written IPv4-mapped. Raw is written
// as it is, SIP or not. A capture time pcap cannot hold (before 1970, after
// 2106) is written as 1970-01-01T00:00:00Z.
func (w *Writer) Write(p *hepvault.Packet) error {
	src, dst := addrs(p.SrcIP, p.DstIP)
	ci := gopacket.CaptureInfo{Timestamp: p.CapturedAt}
	if s := p.CapturedAt.Unix(); s < 0 || s > math.MaxUint32 {
		// pcap keeps unsigned 32-bit seconds: rather than wrap around to
		// some plausible date, a time it cannot hold reads as 1970.
		ci.Timestamp = time.Unix(0, 0)
	}
	raw := p.Raw
	if p.Transport == hepvault.TransportTCP {
		key := flowKey{netip.AddrPortFrom(src, p.SrcPort), netip.AddrPortFrom(dst, p.DstPort)}
		seq, ok := w.seq[key]
		if !ok {
			seq = 1
		}
		ack, ok := w.seq[flowKey{key.dst, key.src}]
		if !ok {
			ack = 1
		}
		for first := true; first || len(raw) > 0; first = false {
			n := min(len(raw), MaxTCPPayload)
			tcp := &layers.TCP{SrcPort: layers.TCPPort(p.SrcPort), DstPort: layers.TCPPort(p.DstPort),
				Seq: seq, Ack: ack, PSH: true, ACK: true, Window: 65535}
			if err := w.frame(ci, src, dst, layers.IPProtocolTCP, tcp, raw[:n]); err != nil {
				return err
			}
			seq += uint32(n)
			raw = raw[n:]
		}
		w.seq[key] = seq
		return nil
	}
	for first := true; first || len(raw) > 0; first = false {
		n := min(len(raw), MaxUDPPayload)
		udp := &layers.UDP{SrcPort: layers.UDPPort(p.SrcPort), DstPort: layers.UDPPort(p.DstPort)}
		if err := w.frame(ci, src, dst, layers.IPProtocolUDP, udp, raw[:n]); err != nil {
			return err
		}
		raw = raw[n:]
	}
	return nil
}

// transportLayer is a TCP or UDP header that can be serialized and whose
// checksum covers the IP pseudo-header.
type transportLayer interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}

func (w *Writer) frame(ci gopacket.CaptureInfo, src, dst netip.Addr, proto layers.IPProtocol, tl transportLayer, payload []byte) error {
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC}
	var ip interface {
		gopacket.SerializableLayer
		gopacket.NetworkLayer
	}
	if src.Is4() {
		w.ipID++
		eth.EthernetType = layers.EthernetTypeIPv4
		ip = &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: w.ipID, Flags: layers.IPv4DontFragment,
			Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	}
	if err := tl.SetNetworkLayerForChecksum(ip); err != nil {
		return fmt.Errorf("pcapout: %w", err)
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(w.buf, opts, eth, ip, tl, gopacket.Payload(payload)); err != nil {
		return fmt.Errorf("pcapout: building a frame: %w", err)
	}
	data := w.buf.Bytes()
	ci.CaptureLength, ci.Length = len(data), len(data)
	if err := w.w.WritePacket(ci, data); err != nil {
		return fmt.Errorf("pcapout: %w", err)
	}
	return nil
}

// addrs returns the two addresses of one family: IPv4 when both are IPv4
// (or missing), IPv6 otherwise, placeholders for missing ones. Zones are
// dropped: a frame has no room for them.
func addrs(src, dst netip.Addr) (netip.Addr, netip.Addr) {
	if (!src.IsValid() || src.Is4()) && (!dst.IsValid() || dst.Is4()) {
		if !src.IsValid() {
			src = PlaceholderIPv4
		}
		if !dst.IsValid() {
			dst = PlaceholderIPv4
		}
		return src, dst
	}
	v6 := func(a netip.Addr) netip.Addr {
		if !a.IsValid() {
			return PlaceholderIPv6
		}
		return netip.AddrFrom16(a.As16())
	}
	return v6(src), v6(dst)
}
