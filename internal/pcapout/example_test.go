package pcapout_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/pcapout"
)

// The second message of the TCP flow starts where the first ended; SCTP is
// written as UDP, and its IPv4 source IPv4-mapped beside an IPv6
// destination (which Go prints as plain IPv4).
func ExampleWrite() {
	at := time.Date(2026, 11, 25, 12, 20, 33, 123456000, time.UTC)
	src, dst, dst6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.20"), netip.MustParseAddr("2001:db8::1")
	msg := []byte("OPTIONS sip:proxy.example.com SIP/2.0\r\nCall-ID: x1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	pkts := []hepvault.Packet{
		{CapturedAt: at, SrcIP: src, SrcPort: 5060, DstIP: dst, DstPort: 5060, Transport: hepvault.TransportTCP, Raw: msg},
		{CapturedAt: at.Add(time.Millisecond), SrcIP: src, SrcPort: 5060, DstIP: dst, DstPort: 5060, Transport: hepvault.TransportTCP, Raw: msg},
		{CapturedAt: at, SrcIP: src, SrcPort: 5060, DstIP: dst6, DstPort: 5060, Transport: hepvault.TransportSCTP, Raw: msg},
	}
	var file bytes.Buffer
	if err := pcapout.Write(&file, pkts); err != nil {
		fmt.Println(err)
		return
	}
	r, _ := pcapgo.NewReader(&file)
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		net, tr := p.NetworkLayer().NetworkFlow(), p.TransportLayer()
		fmt.Print(ci.Timestamp.Format(time.StampMicro), " ", net.Src(), " > ", net.Dst(), " ", tr.LayerType())
		if tcp, ok := tr.(*layers.TCP); ok {
			fmt.Print(" seq ", tcp.Seq)
		}
		fmt.Println(" payload", len(tr.LayerPayload()))
	}
	// Output:
	// Nov 25 12:20:33.123456 192.0.2.10 > 192.0.2.20 TCP seq 1 payload 90
	// Nov 25 12:20:33.124456 192.0.2.10 > 192.0.2.20 TCP seq 91 payload 90
	// Nov 25 12:20:33.123456 192.0.2.10 > 2001:db8::1 UDP payload 90
}

func BenchmarkWrite(b *testing.B) {
	pkts := load(b, fixture.HEP3+".pcap")
	n := 0
	for _, p := range pkts {
		n += len(p.Raw)
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	var buf bytes.Buffer
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := pcapout.Write(&buf, pkts); err != nil {
			b.Fatal(err)
		}
	}
}
