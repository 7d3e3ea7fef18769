package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/internal/fixture"
)

const options = "OPTIONS sip:proxy@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n" +
	"Call-ID: skip-test\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:proxy@192.0.2.2>\r\n" +
	"Content-Length: 0\r\n\r\n"

// fragments splits an Ethernet+IPv4 frame's IP payload in two fragments at
// byte at (a multiple of 8), with IP identification id.
func fragments(frame []byte, at int, id uint16) (first, second []byte) {
	eth, ip := frame[:14], frame[14:]
	hdr, payload := ip[:20], ip[20:]
	mk := func(part []byte, flags, off uint16) []byte {
		h := slices.Clone(hdr)
		binary.BigEndian.PutUint16(h[4:6], id)
		binary.BigEndian.PutUint16(h[2:4], uint16(20+len(part)))
		binary.BigEndian.PutUint16(h[6:8], flags<<13|off/8)
		return slices.Concat(eth, h, part)
	}
	return mk(payload[:at], 1, 0), mk(payload[at:], 0, uint16(at))
}

// TestRead_Skips writes one record of each kind a capture of SIP holds
// besides SIP, and expects each counted under its reason, and the SIP among
// them read.
func TestRead_Skips(t *testing.T) {
	src, dst := uac, uas
	udp := func(p string) []byte { return udpFrame(t, src, dst, []byte(p)) }
	ts := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var recs []rec
	add := func(data []byte, origLen int) {
		ts = ts.Add(time.Millisecond)
		recs = append(recs, rec{ts: ts, data: data, origLen: origLen})
	}
	want := map[capture.Reason]uint64{}
	skip := func(r capture.Reason, data []byte) { add(data, 0); want[r]++ }

	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: []byte{192, 0, 2, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 0, 2, 2}})
	skip(capture.ReasonNotIP, arp)
	eth, _, ip := ipLayers(src.Addr(), dst.Addr(), layers.IPProtocolICMPv4)
	skip(capture.ReasonNotUDPTCP, serialize(t, eth, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, gopacket.Payload("ping")))
	skip(capture.ReasonNoPayload, udp(""))
	skip(capture.ReasonKeepalive, udp("\r\n\r\n"))
	skip(capture.ReasonNotSIP, udp("\x80\x00\x01\x02 RTP-like binary"))
	skip(capture.ReasonNotSIP, udp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	skip(capture.ReasonNotSIP, udp("\x02\x03 a first byte of 2 that is no HEPv2"))
	skip(capture.ReasonBadHEP, udp("HEP3\x00\x03garbage"))
	// A HEPv2 header (told by its first byte) before something that is not
	// SIP: another protocol passing for HEPv2.
	v2 := fixture.Load(t, fixture.HEP2)[0]
	fake := slices.Clone(v2.Datagram)
	copy(fake[len(fake)-v2.Truth.PayloadLen:], bytes.Repeat([]byte{0xee}, v2.Truth.PayloadLen))
	skip(capture.ReasonNotSIP, udpFrame(t, src, dst, fake))
	rtcp := hep.AppendV3(nil, &hep.Packet{Version: 3, Family: hep.FamilyIPv4, Proto: 17, ProtoType: 5,
		SrcIP: src.Addr(), DstIP: dst.Addr(), SrcPort: 5004, DstPort: 5005, TsSec: 1, Payload: []byte("{rtcp}")})
	skip(capture.ReasonHEPNotSIP, udpFrame(t, src, dst, rtcp))
	full := udp(options)
	add(full[:60], len(full)) // cut by the snap length
	want[capture.ReasonTruncated]++
	bad := slices.Clone(full)
	bad[14] = 0x43 // IHL 3
	skip(capture.ReasonMalformed, bad)
	eth6, _, ip6 := ipLayers(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), layers.IPProtocolIPv6Fragment)
	skip(capture.ReasonFragment, serialize(t, eth6, ip6, gopacket.Payload(make([]byte, 24))))
	lone, _ := fragments(udp(options+"lone"), 64, 1) // its second fragment never comes
	add(lone, 0)
	want[capture.ReasonFragment]++

	// What is SIP: invalid SIP (stored as invalid), SIP over IPv6, SIP in
	// two IPv4 fragments.
	add(udp("INVITE sip:b@192.0.2.2 SIP/2.0\r\nno colon in this header\r\n\r\n"), 0)
	v6src, v6dst := netip.MustParseAddrPort("[2001:db8::1]:5060"), netip.MustParseAddrPort("[2001:db8::2]:5060")
	add(udpFrame(t, v6src, v6dst, []byte(options)), 0)
	f1, f2 := fragments(udp(options), 64, 2)
	add(f1, 0)
	add(f2, 0)

	got, st, err := readAll(t, writePcap(t, layers.LinkTypeEthernet, recs))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range capture.Reasons() {
		if st.Skipped[r] != want[r] {
			t.Errorf("unexpected %s count; got %d; want %d", r, st.Skipped[r], want[r])
		}
	}
	if len(got) != 3 || st.Messages != 3 || st.Invalid != 1 || st.Records != uint64(len(recs)) {
		t.Fatalf("unexpected messages; got %d (stats %d, %d invalid, %d records); want 3, 1 invalid, %d records",
			len(got), st.Messages, st.Invalid, st.Records, len(recs))
	}
	if got[0].Kind != hepvault.KindInvalid || got[0].Method != "INVITE" || got[0].InvalidReason == "" {
		t.Errorf("unexpected invalid message: %s", got[0].Summary())
	}
	if got[1].SrcIP != v6src.Addr() || got[1].DstPort != 5060 || got[1].Method != "OPTIONS" {
		t.Errorf("unexpected IPv6 message: %s %s", got[1].SrcIP, got[1].Summary())
	}
	if string(got[2].Raw) != options || !got[2].CapturedAt.Equal(recs[len(recs)-1].ts) {
		t.Errorf("unexpected defragmented message at %s: %q", got[2].CapturedAt, got[2].Raw)
	}
}

// TestRead_DamagedFiles: a file cut short loses only its last record; a
// garbage record header stops reading with ErrCorrupt after everything
// before it was delivered; a file of something else is ErrFormat.
func TestRead_DamagedFiles(t *testing.T) {
	orig := readFixture(t, fixture.SIPPcap)
	all, _, err := readAll(t, orig)
	if err != nil {
		t.Fatal(err)
	}
	// Cut inside record 5 (a REGISTER): records 1-4 hold 4 messages.
	off := 24
	for range 4 {
		off += 16 + int(binary.LittleEndian.Uint32(orig[off+8:]))
	}
	got, st, err := readAll(t, orig[:off+16+100])
	if err != nil {
		t.Fatalf("cut file: unexpected error %v", err)
	}
	if st.Skipped[capture.ReasonTruncated] != 1 || len(got) != 4 || st.Records != 5 {
		t.Fatalf("cut file: got %d messages, %d records, %d truncated; want 4, 5 and 1", len(got), st.Records, st.Skipped[capture.ReasonTruncated])
	}
	if _, st, err = readAll(t, orig[:len(orig)-len(readRecs(t, orig)[350].data)]); err != nil || st.Skipped[capture.ReasonTruncated] != 1 {
		t.Fatalf("file without its last record's data: got err %v, %d truncated; want nil, 1", err, st.Skipped[capture.ReasonTruncated])
	}

	bad := slices.Clone(orig)
	off = 24
	for range 100 {
		off += 16 + int(binary.LittleEndian.Uint32(bad[off+8:]))
	}
	binary.LittleEndian.PutUint32(bad[off+8:], 0x7fffffff)
	got, st, err = readAll(t, bad)
	if !errors.Is(err, capture.ErrCorrupt) {
		t.Fatalf("garbage record header: unexpected error %v; want ErrCorrupt", err)
	}
	if st.Records != 100 || !slices.EqualFunc(got, all[:len(got)], func(a, b hepvault.Packet) bool { return a.ID == b.ID }) || len(got) < 90 {
		t.Fatalf("garbage record header: got %d records, %d messages; want the 100 records before it", st.Records, len(got))
	}

	f := func(name string, data []byte) {
		t.Helper()
		if _, _, err := readAll(t, data); !errors.Is(err, capture.ErrFormat) {
			t.Fatalf("%s: unexpected error %v; want ErrFormat", name, err)
		}
	}
	f("empty", nil)
	f("text", []byte("INVITE sip:x SIP/2.0\r\n\r\n"))
	f("pcap header only half", orig[:12])
	f("pcapng magic, garbage after", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, bytes.Repeat([]byte{0xff}, 40)...))
	f("gzip of garbage", []byte{0x1f, 0x8b, 0, 0})
}

// TestRead_IDs: ids depend only on the packets, so reading a file again
// gives the same ones; (capture time, id) never repeats, not even for a
// datagram the capture holds twice.
func TestRead_IDs(t *testing.T) {
	type key struct {
		at time.Time
		id int64
	}
	seen := map[key]string{}
	for _, name := range []string{fixture.SIPPcap, fixture.SIPPTCPPcap, fixture.HEP3 + ".pcap", fixture.HEP2 + ".pcap"} {
		data := readFixture(t, name)
		first, _, err := readAll(t, data)
		if err != nil {
			t.Fatal(err)
		}
		again, _, _ := readAll(t, data)
		for i, p := range first {
			if again[i].ID != p.ID || !again[i].CapturedAt.Equal(p.CapturedAt) {
				t.Fatalf("%s: message %d: id %d the first time, %d the second", name, i, p.ID, again[i].ID)
			}
			if p.ID <= 0 {
				t.Fatalf("%s: message %d: id %d not positive", name, i, p.ID)
			}
			k := key{p.CapturedAt, p.ID}
			if other, dup := seen[k]; dup {
				t.Fatalf("%s: message %d has the (time, id) of %s", name, i, other)
			}
			seen[k] = name
		}
	}

	recs := readRecs(t, readFixture(t, fixture.SIPPcap))[:3]
	recs = append(recs, recs[0]) // the same record again, same time
	got, _, err := readAll(t, writePcap(t, layers.LinkTypeEthernet, recs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[3].ID == got[0].ID || string(got[3].Raw) != string(got[0].Raw) {
		t.Fatalf("a repeated datagram must get its own id; got %d messages, ids %d and %d", len(got), got[0].ID, got[3].ID)
	}
	again, _, _ := readAll(t, writePcap(t, layers.LinkTypeEthernet, recs))
	if again[3].ID != got[3].ID {
		t.Fatalf("the repeated datagram's id changed: %d, then %d", got[3].ID, again[3].ID)
	}
}

// TestRead_PcapNGHugeRecord: a packet block claiming gigabytes is corrupt,
// found before anything is allocated for it.
func TestRead_PcapNGHugeRecord(t *testing.T) {
	recs := readRecs(t, readFixture(t, fixture.SIPPcap))[:5]
	data := writePcapNG(t, layers.LinkTypeEthernet, recs)
	// The last block is an enhanced packet block: its captured length is
	// at offset 20 of the block; the block's length is its last 4 bytes.
	last := len(data) - int(binary.LittleEndian.Uint32(data[len(data)-4:]))
	binary.LittleEndian.PutUint32(data[last+20:], 0x80000000)
	got, st, err := readAll(t, data)
	if !errors.Is(err, capture.ErrCorrupt) {
		t.Fatalf("unexpected error %v; want ErrCorrupt", err)
	}
	if st.Records != 4 || len(got) != 4 {
		t.Fatalf("unexpected records before the corrupt one; got %d records, %d messages; want 4, 4", st.Records, len(got))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.TotalAlloc > 1<<30 {
		t.Fatalf("read allocated %d bytes", ms.TotalAlloc)
	}
}
