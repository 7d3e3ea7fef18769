package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
)

// lines is what must not change when the same traffic is written another way.
func lines(pkts []hepvault.Packet) []string {
	var out []string
	for _, p := range pkts {
		out = append(out, fmt.Sprintf("%s %d %s:%d>%s:%d %s %s %q", p.CapturedAt.Format("15:04:05.000000"), p.ID,
			p.SrcIP, p.SrcPort, p.DstIP, p.DstPort, p.Transport, p.Summary(), p.Raw))
	}
	return out
}

// TestRead_LinkTypes writes sip.pcap's frames with the link header of each
// link type tcpdump, Wireshark, ngrep and sngrep save, and expects the same
// messages, with the same ids.
func TestRead_LinkTypes(t *testing.T) {
	orig := readFixture(t, fixture.SIPPcap)
	base, _, err := readAll(t, orig)
	if err != nil {
		t.Fatal(err)
	}
	want := lines(base)
	recs := readRecs(t, orig)
	const etherIPv4 = 0x0800
	f := func(name string, data []byte) {
		t.Helper()
		got, st, err := readAll(t, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g := lines(got); !slices.Equal(g, want) {
			t.Fatalf("%s: unexpected messages; got %d; want %d (skipped %v)", name, len(g), len(want), st.Skipped)
		}
	}
	f("ethernet with an 802.1Q tag", writePcap(t, layers.LinkTypeEthernet, rewrap(t, recs, func([]byte) []byte {
		return slices.Concat(macB, macA, be16(0x8100), be16(42), be16(etherIPv4))
	})))
	f("linux SLL (tcpdump -i any)", writePcap(t, layers.LinkTypeLinuxSLL, rewrap(t, recs, func([]byte) []byte {
		return slices.Concat(be16(0), be16(772), be16(6), macA, []byte{0, 0}, be16(etherIPv4))
	})))
	f("linux SLL2 (tcpdump -i any, libpcap 1.10)", writePcap(t, layers.LinkType(276&0xff), rewrap(t, recs, func([]byte) []byte {
		return slices.Concat(be16(etherIPv4), be16(0), []byte{0, 0, 0, 1}, be16(772), []byte{0, 6}, macA, []byte{0, 0})
	})))
	f("raw IP", writePcap(t, layers.LinkTypeRaw, rewrap(t, recs, func([]byte) []byte { return nil })))
	f("IPv4", writePcap(t, 228, rewrap(t, recs, func([]byte) []byte { return nil })))
	f("BSD loopback (null)", writePcap(t, layers.LinkTypeNull, rewrap(t, recs, func([]byte) []byte {
		return binary.LittleEndian.AppendUint32(nil, 2)
	})))
	f("OpenBSD loopback", writePcap(t, layers.LinkTypeLoop, rewrap(t, recs, func([]byte) []byte {
		return binary.BigEndian.AppendUint32(nil, 2)
	})))
	f("pcap with nanosecond timestamps", writePcapNanos(t, layers.LinkTypeEthernet, recs))
	f("big-endian pcap", bigEndian(orig))
	f("pcapng", writePcapNG(t, layers.LinkTypeEthernet, recs))
	f("pcapng raw IP", writePcapNG(t, layers.LinkTypeRaw, rewrap(t, recs, func([]byte) []byte { return nil })))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(orig)
	zw.Close()
	f("gzipped pcap", gz.Bytes())
}

func TestRead_UnsupportedLinkType(t *testing.T) {
	recs := readRecs(t, readFixture(t, fixture.SIPPcap))
	_, st, err := readAll(t, writePcap(t, layers.LinkTypeIEEE802_11, recs))
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 0 || st.Skipped[capture.ReasonLinkType] != uint64(len(recs)) {
		t.Fatalf("unexpected stats for 802.11 frames; got %d messages, skipped %v", st.Messages, st.Skipped)
	}
}
