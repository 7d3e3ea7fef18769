package pcapout_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/pcapout"
	"github.com/hepvault/hepvault/internal/pcapout/pcapouttest"
)

// load reads a capture of testdata/ as `hepvault import` does.
func load(tb testing.TB, name string) []hepvault.Packet {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fixture.Dir(tb), name))
	if err != nil {
		tb.Fatal(err)
	}
	var pkts []hepvault.Packet
	if _, err := capture.Read(bytes.NewReader(b), capture.Config{}, func(p hepvault.Packet) error {
		pkts = append(pkts, p)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	if len(pkts) == 0 {
		tb.Fatalf("%s: no SIP messages", name)
	}
	return pkts
}

func export(tb testing.TB, pkts []hepvault.Packet) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := pcapout.Write(&b, pkts); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// toIPv6 moves packets to IPv6, each IPv4 address a within
// 2001:db8::a.b.c.d, keeping everything else: no fixture was captured
// over IPv6, but the messages stay real.
func toIPv6(pkts []hepvault.Packet) []hepvault.Packet {
	out := make([]hepvault.Packet, len(pkts))
	for i, p := range pkts {
		v6 := func(a netip.Addr) netip.Addr {
			b := a.As4()
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
		}
		p.SrcIP, p.DstIP = v6(p.SrcIP), v6(p.DstIP)
		out[i] = p
	}
	return out
}

func countTransport(pkts []hepvault.Packet, t hepvault.Transport) int {
	n := 0
	for _, p := range pkts {
		if p.Transport == t {
			n++
		}
	}
	return n
}

// TestWrite_Fixtures exports the real captures' messages and has tshark read
// them back: the same messages, in the same order, with their addresses,
// ports, transport and time.
func TestWrite_Fixtures(t *testing.T) {
	f := func(name string, pkts []hepvault.Packet, wantTCP bool) {
		t.Run(name, func(t *testing.T) {
			if tcp := countTransport(pkts, hepvault.TransportTCP); (tcp > 0) != wantTCP {
				t.Fatalf("unexpected TCP messages in the fixture; got %d; want some: %v", tcp, wantTCP)
			}
			pcapouttest.Check(t, export(t, pkts), pkts)
		})
	}
	// sip.pcap: UDP and TCP; sipp-tcp: TCP messages that spanned segments;
	// the HEP3 fixture: what Kamailio mirrored, TCP legs included.
	sip := load(t, fixture.SIPPcap)
	f("sip", sip, true)
	f("sipp-tcp", load(t, fixture.SIPPTCPPcap), true)
	f("hep3", load(t, fixture.HEP3+".pcap"), true)
	f("hep2", load(t, fixture.HEP2+".pcap"), false)
	f("sip-ipv6", toIPv6(sip), true)
	f("sipp-tcp-ipv6", toIPv6(load(t, fixture.SIPPTCPPcap)), true)
}

// TestWrite_OddPackets exports what a HEP agent may send beside the normal:
// missing addresses, mixed families, other transports, payloads that are
// not SIP; every one becomes a frame.
func TestWrite_OddPackets(t *testing.T) {
	sip := load(t, fixture.SIPPcap)
	var pkts []hepvault.Packet
	add := func(edit func(p *hepvault.Packet)) {
		p := sip[len(pkts)%len(sip)]
		edit(&p)
		pkts = append(pkts, p)
	}
	add(func(p *hepvault.Packet) { p.SrcIP, p.DstIP = netip.Addr{}, netip.Addr{} })
	add(func(p *hepvault.Packet) { p.SrcIP = netip.Addr{} })
	add(func(p *hepvault.Packet) { p.DstIP = netip.MustParseAddr("2001:db8::5") })
	add(func(p *hepvault.Packet) {
		p.SrcIP, p.DstIP = netip.MustParseAddr("fe80::1%eth0"), netip.Addr{}
		p.Transport = hepvault.TransportTCP
	})
	add(func(p *hepvault.Packet) { p.Transport = hepvault.TransportSCTP })
	add(func(p *hepvault.Packet) { p.CapturedAt = time.Time{} }) // before 1970: pcap cannot hold it
	zeroTime := len(pkts) - 1
	add(func(p *hepvault.Packet) { p.Transport = 0 })
	add(func(p *hepvault.Packet) {
		p.Kind, p.Raw = hepvault.KindInvalid, []byte("\x00\x01 not SIP at all")
	})
	add(func(p *hepvault.Packet) { p.Kind, p.Raw = hepvault.KindInvalid, nil })
	add(func(p *hepvault.Packet) {
		p.Kind, p.Raw, p.Transport = hepvault.KindInvalid, []byte("garbage over tcp"), hepvault.TransportTCP
	})
	b := export(t, pkts)
	pkts[zeroTime].CapturedAt = time.Unix(0, 0)
	pcapouttest.Check(t, b, pkts)
}

// TestWrite_LargeRaw checks that a payload longer than one frame carries is
// split: TCP into segments whose sequence numbers follow each other, UDP
// into datagrams, every byte kept in order.
func TestWrite_LargeRaw(t *testing.T) {
	raw := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160,000 bytes
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	base := hepvault.Packet{CapturedAt: at, SrcIP: netip.MustParseAddr("192.0.2.1"), SrcPort: 5060,
		DstIP: netip.MustParseAddr("192.0.2.2"), DstPort: 5061, Raw: raw, Kind: hepvault.KindInvalid}
	f := func(tr hepvault.Transport, max int) {
		t.Helper()
		p := base
		p.Transport = tr
		r, err := pcapgo.NewReader(bytes.NewReader(export(t, []hepvault.Packet{p, p})))
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		frames, seq := 0, uint32(1)
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			frames++
			if !ci.Timestamp.Equal(at) {
				t.Fatalf("%s: unexpected time; got %v; want %v", tr, ci.Timestamp, at)
			}
			pkt := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
			if el := pkt.ErrorLayer(); el != nil {
				t.Fatalf("%s: frame %d does not decode: %v", tr, frames, el.Error())
			}
			payload := pkt.ApplicationLayer().Payload()
			if len(payload) > max {
				t.Fatalf("%s: unexpected frame payload; got %d bytes; want at most %d", tr, len(payload), max)
			}
			if tcp, ok := pkt.TransportLayer().(*layers.TCP); ok {
				if tcp.Seq != seq {
					t.Fatalf("unexpected sequence number; got %d; want %d", tcp.Seq, seq)
				}
				seq += uint32(len(payload))
			}
			got = append(got, payload...)
		}
		want := append(append([]byte(nil), raw...), raw...)
		if wantFrames := 2 * ((len(raw) + max - 1) / max); frames != wantFrames || !bytes.Equal(got, want) {
			t.Fatalf("%s: unexpected frames; got %d frames, %d bytes; want %d frames, the %d bytes", tr, frames, len(got), wantFrames, len(want))
		}
	}
	f(hepvault.TransportTCP, pcapout.MaxTCPPayload)
	f(hepvault.TransportUDP, pcapout.MaxUDPPayload)
}

// FuzzWrite checks that the writer never panics and always writes a file
// gopacket can read, whatever the packet holds.
func FuzzWrite(f *testing.F) {
	for _, p := range load(f, fixture.HEP3+".pcap")[:20] {
		f.Add(p.Raw, p.SrcIP.AsSlice(), p.DstIP.AsSlice(), p.SrcPort, p.DstPort, uint8(p.Transport), p.CapturedAt.UnixNano())
	}
	f.Add([]byte{}, []byte{}, net16(), uint16(0), uint16(0), uint8(6), int64(-1))
	f.Fuzz(func(t *testing.T, raw, src, dst []byte, sport, dport uint16, tr uint8, ns int64) {
		sa, _ := netip.AddrFromSlice(src)
		da, _ := netip.AddrFromSlice(dst)
		p := hepvault.Packet{CapturedAt: time.Unix(0, ns), SrcIP: sa, DstIP: da, SrcPort: sport, DstPort: dport,
			Transport: hepvault.Transport(tr), Raw: raw}
		var b bytes.Buffer
		if err := pcapout.Write(&b, []hepvault.Packet{p, p}); err != nil {
			t.Fatalf("unexpected error; got %v; want nil", err)
		}
		r, err := pcapgo.NewReader(&b)
		if err != nil {
			t.Fatal(err)
		}
		frames := 0
		for {
			if _, _, err := r.ReadPacketData(); err != nil {
				break
			}
			frames++
		}
		if frames < 2 {
			t.Fatalf("unexpected frame count; got %d; want at least 2", frames)
		}
	})
}

func net16() []byte { return netip.MustParseAddr("2001:db8::1").AsSlice() }
