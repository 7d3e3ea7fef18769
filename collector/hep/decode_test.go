package hep

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
)

// TestDecode_Fixtures checks every packet of the real Kamailio captures
// against the independent decoder's truth.
func TestDecode_Fixtures(t *testing.T) {
	f := func(name string, wantVersion uint8) {
		t.Helper()
		var d Decoder
		var p Packet
		recs := fixture.Load(t, name)
		tcp := 0
		for _, r := range recs {
			tr := r.Truth
			if err := d.Decode(r.Datagram, &p); err != nil {
				t.Fatalf("%s frame %d: unexpected error: %v", name, tr.Frame, err)
			}
			check := func(field string, got, want any) {
				t.Helper()
				if got != want {
					t.Fatalf("%s frame %d: unexpected %s; got %v; want %v", name, tr.Frame, field, got, want)
				}
			}
			check("version", p.Version, wantVersion)
			check("version (truth)", int(p.Version), tr.HEPVersion)
			check("ts_sec", p.TsSec, tr.TsSec)
			check("ts_usec", p.TsUsec, tr.TsUsec)
			check("family", int(p.Family), tr.IPFamily)
			check("ip_proto", int(p.Proto), tr.IPProto)
			check("src_ip", p.SrcIP, netip.MustParseAddr(tr.SrcIP))
			check("dst_ip", p.DstIP, netip.MustParseAddr(tr.DstIP))
			check("src_port", p.SrcPort, tr.SrcPort)
			check("dst_port", p.DstPort, tr.DstPort)
			check("capture_id", p.CaptureID, tr.CaptureID)
			check("payload_len", len(p.Payload), tr.PayloadLen)
			check("compressed", p.Compressed, false)
			check("vendor chunks", p.VendorChunks, 0)
			check("unknown chunks", p.UnknownChunks, 0)
			if !bytes.Equal(p.Payload, r.SIP()) {
				t.Fatalf("%s frame %d: unexpected payload; got %.40q; want %.40q", name, tr.Frame, p.Payload, r.SIP())
			}
			wantTime, err := time.Parse(time.RFC3339Nano, tr.CaptureTime)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Time().Equal(wantTime) || p.Time().Location() != time.UTC {
				t.Fatalf("%s frame %d: unexpected time; got %v; want %v", name, tr.Frame, p.Time(), wantTime)
			}
			if wantVersion == 3 {
				check("proto_type", int(p.ProtoType), tr.ProtoType)
				check("auth_key", string(p.AuthKey), tr.AuthKey)
				// Re-encoding gives back the same packet: AppendV3 writes
				// Kamailio's chunk order and sizes.
				if got := AppendV3(nil, &p); !bytes.Equal(got, r.Datagram) {
					t.Fatalf("%s frame %d: AppendV3 differs from the wire", name, tr.Frame)
				}
			} else {
				check("proto_type", p.ProtoType, uint8(ProtoTypeSIP))
			}
			if p.Proto == 6 {
				tcp++
			}
		}
		if wantVersion == 3 && tcp == 0 {
			t.Fatalf("%s: no packet with ip_proto 6", name)
		}
	}
	f(fixture.HEP3, 3)
	f(fixture.HEP2, 2)
}

func TestDecode_Success(t *testing.T) {
	f := func(name string, buf []byte, want Packet) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			var d Decoder
			var p Packet
			if err := d.Decode(buf, &p); err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !samePacket(&p, &want) || p.Version != want.Version || p.Compressed != want.Compressed ||
				p.VendorChunks != want.VendorChunks || p.UnknownChunks != want.UnknownChunks {
				t.Fatalf("unexpected packet;\ngot  %+v\nwant %+v", p, want)
			}
		})
	}
	kam := Packet{
		Version: 3, Family: FamilyIPv4, Proto: 17, ProtoType: ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 5060, DstPort: 5080, TsSec: 1795609907, TsUsec: 746644, CaptureID: 4242,
		AuthKey: []byte("fixture-hep-key"), Payload: []byte(testSIP),
	}
	with := func(edit func(p *Packet)) Packet {
		p := kam
		edit(&p)
		return p
	}

	f("kamailio order", kamailioPacket(), kam)

	// sngrep writes 1,2,7,8,9,10,11,12,3,4,14,15 (HEP.md).
	cs := kamailioChunks()
	sngrep := []chunk{cs[0], cs[1], cs[4], cs[5], cs[6], cs[7], cs[8], cs[9], cs[2], cs[3], cs[10], ck(chunkPayload, []byte(testSIP)...)}
	f("sngrep order", hep3(sngrep...), kam)

	f("vendor chunks skipped", kamailioPacket(ckVendor(0x0027, 0x0001, 1, 2, 3), ckVendor(0xffff, chunkPayload, 'x')),
		with(func(p *Packet) { p.VendorChunks = 2 }))
	f("unknown types skipped", kamailioPacket(ck(0x0014, 1, 2), ck(0x0020), ck(0xffff, 9)),
		with(func(p *Packet) { p.UnknownChunks = 3 }))
	f("optional chunks", kamailioPacket(ckU16(chunkKeepAlive, 30), ck(chunkCorrelation, []byte("leg-a")...),
		ckU16(chunkVLAN, 100), ck(chunkNodeName, []byte("edge-1")...)),
		with(func(p *Packet) {
			p.KeepAlive, p.VLAN = 30, 100
			p.CorrelationID, p.NodeName = []byte("leg-a"), []byte("edge-1")
		}))

	ip6 := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
	f("ipv6", hep3(ck(chunkFamily, FamilyIPv6), ck(chunkProto, 6),
		ck(chunkSrcIP6, ip6("2001:db8::1")...), ck(chunkDstIP6, ip6("2001:db8::2")...),
		ckU16(chunkSrcPort, 5060), ckU16(chunkDstPort, 5061), ck(chunkPayload, []byte(testSIP)...)),
		Packet{Version: 3, Family: FamilyIPv6, Proto: 6,
			SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("2001:db8::2"),
			SrcPort: 5060, DstPort: 5061, Payload: []byte(testSIP)})

	gz := gzipped(t, []byte(testSIP))
	zl := zlibbed(t, []byte(testSIP))
	compressed := with(func(p *Packet) { p.Compressed = true })
	f("gzip payload", hep3(append(kamailioChunks(), ck(chunkCompressed, gz...))...), compressed)
	f("zlib payload", hep3(append(kamailioChunks(), ck(chunkCompressed, zl...))...), compressed)
	f("last payload chunk wins: plain", hep3(append(kamailioChunks(), ck(chunkCompressed, gz...), ck(chunkPayload, []byte(testSIP)...))...), kam)
	f("last payload chunk wins: compressed", hep3(append(kamailioChunks(), ck(chunkPayload, 'x'), ck(chunkCompressed, gz...))...), compressed)
	f("duplicate chunk: last wins", kamailioPacket(ckU16(chunkSrcPort, 1)), with(func(p *Packet) { p.SrcPort = 1 }))

	// Bytes after the total length are ignored (Kamailio's collector does
	// the same), whatever they are.
	f("trailing bytes ignored", append(kamailioPacket(), "HEP3\x00\x06garbage"...), kam)

	f("minimal", hep3(ck(chunkPayload, 'x')), Packet{Version: 3, Payload: []byte("x")})

	v2 := Packet{Version: 2, Family: FamilyIPv4, Proto: 17, ProtoType: ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("127.0.0.1"), DstIP: netip.MustParseAddr("127.0.0.2"),
		SrcPort: 5060, DstPort: 5090, TsSec: 1795609948, TsUsec: 258647, CaptureID: 4242,
		Payload: []byte(testSIP)}
	f("v2", v12(2, testSIP), v2)
	v1 := v2
	v1.Version, v1.TsSec, v1.TsUsec, v1.CaptureID = 1, 0, 0, 0
	f("v1", v12(1, testSIP), v1)

	v2ip6 := append([]byte{2, 40, FamilyIPv6, 6, 0x13, 0xc4, 0x13, 0xe2}, ip6("2001:db8::1")...)
	v2ip6 = append(v2ip6, ip6("::ffff:10.0.0.2")...)
	v2ip6 = append(v2ip6, 0x5c, 0xd5, 0x06, 0x6b, 0x57, 0xf2, 0x03, 0x00, 0x92, 0x10, 0, 0)
	f("v2 ipv6", append(v2ip6, testSIP...), Packet{Version: 2, Family: FamilyIPv6, Proto: 6, ProtoType: ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("::ffff:10.0.0.2"),
		SrcPort: 5060, DstPort: 5090, TsSec: 0x6b06d55c, TsUsec: 0x03f257, CaptureID: 0x1092,
		Payload: []byte(testSIP)})
}

func TestDecode_Failure(t *testing.T) {
	f := func(name string, buf []byte, want error) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			var d Decoder
			var p Packet
			err := d.Decode(buf, &p)
			if !errors.Is(err, want) {
				t.Fatalf("unexpected error; got %v; want %v", err, want)
			}
			if n := sentinelCount(err); n != 1 {
				t.Fatalf("unexpected sentinel count; got %d; want 1 (%v)", n, err)
			}
			if !strings.HasPrefix(err.Error(), "hep: ") {
				t.Fatalf("unexpected error text; got %q; want a \"hep: \" prefix", err)
			}
		})
	}
	failureCases(t, f)
}

// failureCases calls f with every malformed input and the sentinel Decode
// must return for it; FuzzDecode uses them as seeds.
func failureCases(t testing.TB, f func(name string, buf []byte, want error)) {
	good := kamailioPacket()

	f("empty", nil, ErrShortPacket)
	f("H", []byte("H"), ErrShortPacket)
	f("HEP3 without length", []byte("HEP3"), ErrShortPacket)
	f("HEP3 one length byte", []byte("HEP3\x00"), ErrShortPacket)
	f("unknown version 0", []byte{0, 16, 2, 17, 0, 0, 0, 0}, ErrNotHEP)
	f("unknown version 4", []byte{4, 16, 2, 17, 0, 0, 0, 0}, ErrNotHEP)
	f("EEP3", append([]byte("EEP3"), good[4:]...), ErrNotHEP)
	f("HEP2 magic", append([]byte("HEP2"), good[4:]...), ErrNotHEP)
	f("HTTP", []byte("GET / HTTP/1.1\r\n\r\n"), ErrNotHEP)
	f("short H", []byte("HX"), ErrNotHEP)
	f("SIP", []byte(testSIP), ErrNotHEP)

	f("total length 0", withTotal(good, 0), ErrBadLength)
	f("total length 5", withTotal(good, 5), ErrBadLength)
	f("total length past end", withTotal(good, len(good)+1), ErrBadLength)
	f("truncated datagram", good[:len(good)-1], ErrBadLength)
	f("total length short: cuts the payload chunk", withTotal(good, len(good)-1), ErrBadChunk)
	f("total length short: cuts a chunk header", withTotal(good, 6+3), ErrBadChunk)

	f("chunk length 0", hep3(chunk{typ: chunkPayload, data: []byte("x"), length: 0xffff}), ErrBadChunk)
	f("chunk length 0 exactly", withTotal(append(hep3Raw(), 0, 0, 0, 15, 0, 0), 12), ErrBadChunk)
	f("chunk length 5", withTotal(append(hep3Raw(), 0, 0, 0, 15, 0, 5, 'x'), 13), ErrBadChunk)
	f("chunk length past end", hep3(ck(chunkFamily, 2), chunk{typ: chunkPayload, data: []byte("xy"), length: 9}), ErrBadChunk)
	f("vendor chunk length past end", hep3(chunk{vendor: 9, typ: 1, data: []byte("xy"), length: 100}), ErrBadChunk)
	f("vendor chunk length 3", hep3(chunk{vendor: 9, typ: 1, data: []byte("xyz"), length: 3}), ErrBadChunk)

	f("ipv4 chunk 3 bytes", kamailioPacket(ck(chunkSrcIP4, 1, 2, 3)), ErrBadChunk)
	f("ipv4 chunk 16 bytes", kamailioPacket(ck(chunkDstIP4, make([]byte, 16)...)), ErrBadChunk)
	f("ipv6 chunk 15 bytes", kamailioPacket(ck(chunkSrcIP6, make([]byte, 15)...)), ErrBadChunk)
	f("ipv6 chunk 4 bytes", kamailioPacket(ck(chunkDstIP6, 1, 2, 3, 4)), ErrBadChunk)
	f("uint8 chunk 2 bytes", kamailioPacket(ck(chunkFamily, 0, 2)), ErrBadChunk)
	f("uint8 chunk empty", kamailioPacket(ck(chunkProtoType)), ErrBadChunk)
	f("uint16 chunk 3 bytes", kamailioPacket(ck(chunkSrcPort, 0, 0x13, 0xc4)), ErrBadChunk)
	f("uint16 vlan 1 byte", kamailioPacket(ck(chunkVLAN, 1)), ErrBadChunk)
	f("uint32 chunk 2 bytes", kamailioPacket(ck(chunkCaptureID, 0x10, 0x92)), ErrBadChunk)
	f("uint32 ts 8 bytes", kamailioPacket(ck(chunkTsSec, make([]byte, 8)...)), ErrBadChunk)

	f("no payload", hep3(kamailioChunks()...), ErrNoPayload)
	f("header only", hep3(), ErrNoPayload)
	f("empty payload chunk", hep3(append(kamailioChunks(), ck(chunkPayload))...), ErrNoPayload)
	f("payload only from a vendor", hep3(append(kamailioChunks(), ckVendor(7, chunkPayload, 'x'))...), ErrNoPayload)
	f("compressed empty payload", hep3(ck(chunkCompressed, gzipped(t, nil)...)), ErrNoPayload)

	gz := gzipped(t, []byte(testSIP))
	f("empty compressed chunk", hep3(ck(chunkCompressed)), ErrInflate)
	f("compressed 1 byte", hep3(ck(chunkCompressed, 0x1f)), ErrInflate)
	f("not gzip nor zlib", hep3(ck(chunkCompressed, []byte(testSIP)...)), ErrInflate)
	f("truncated gzip", hep3(ck(chunkCompressed, gz[:len(gz)/2]...)), ErrInflate)
	bad := bytes.Clone(gz)
	bad[len(bad)-5] ^= 0xff // the CRC-32 of the gzip trailer
	f("gzip crc", hep3(ck(chunkCompressed, bad...)), ErrInflate)
	zl := zlibbed(t, []byte(testSIP))
	bad = bytes.Clone(zl)
	bad[len(bad)-1] ^= 0xff // the Adler-32 of the zlib trailer
	f("zlib adler", hep3(ck(chunkCompressed, bad...)), ErrInflate)
	f("gzip then garbage", hep3(ck(chunkCompressed, append(bytes.Clone(gz), "trailing"...)...)), ErrInflate)
	f("gzip bomb over cap", hep3(ck(chunkCompressed, gzipped(t, make([]byte, DefaultMaxInflate+1))...)), ErrInflate)
	f("zlib bomb over cap", hep3(ck(chunkCompressed, zlibbed(t, make([]byte, 4*DefaultMaxInflate))...)), ErrInflate)
	f("bad chunk after payload still fails", hep3(ck(chunkCompressed, gz...), ck(chunkFamily)), ErrBadChunk)

	f("v1 one byte", []byte{1}, ErrShortPacket)
	f("v2 7 bytes", []byte{2, 16, 2, 17, 0, 0, 0}, ErrShortPacket)
	f("v2 shorter than its addresses", v12(2, "")[:12], ErrShortPacket)
	f("v2 shorter than its time header", v12(2, "")[:20], ErrShortPacket)
	f("v1 header only", v12(1, ""), ErrNoPayload)
	f("v2 header only", v12(2, ""), ErrNoPayload)
	f("v2 unknown family", func() []byte { b := v12(2, testSIP); b[2] = 7; return b }(), ErrNotHEP)
	f("v2 header length 28", func() []byte { b := v12(2, testSIP); b[1] = 28; return b }(), ErrBadLength)
	f("v2 ipv6 header length 16", func() []byte { b := v12(2, testSIP); b[2] = FamilyIPv6; return b }(), ErrBadLength)
	f("v1 ipv6 truncated", append([]byte{1, 40, FamilyIPv6, 17, 0, 0, 0, 0}, make([]byte, 31)...), ErrShortPacket)
}

func TestDecode_MaxInflate(t *testing.T) {
	buf := hep3(ck(chunkCompressed, gzipped(t, []byte(testSIP))...))
	f := func(limit int, want error) {
		t.Helper()
		d := Decoder{MaxInflate: limit}
		var p Packet
		if err := d.Decode(buf, &p); !errors.Is(err, want) {
			t.Fatalf("MaxInflate %d: unexpected error; got %v; want %v", limit, err, want)
		}
	}
	f(len(testSIP), nil)
	f(len(testSIP)-1, ErrInflate)
	f(1, ErrInflate)
	f(0, nil)
}

// TestDecode_Reuse decodes compressed and plain packets in turn with one
// Decoder and one Packet: no field may leak from one packet to the next.
func TestDecode_Reuse(t *testing.T) {
	var d Decoder
	var p Packet
	gzp := hep3(append(kamailioChunks(), ckU16(chunkVLAN, 7), ck(chunkCompressed, gzipped(t, []byte("A"+testSIP))...))...)
	zlp := hep3(ck(chunkCompressed, zlibbed(t, []byte("B"+testSIP))...))
	plain := hep3(ck(chunkPayload, 'C'))
	for range 3 {
		for _, c := range []struct {
			buf  []byte
			want string
			vlan uint16
			comp bool
		}{{gzp, "A" + testSIP, 7, true}, {zlp, "B" + testSIP, 0, true}, {plain, "C", 0, false}, {v12(2, "D"), "D", 0, false}} {
			if err := d.Decode(c.buf, &p); err != nil {
				t.Fatal(err)
			}
			if string(p.Payload) != c.want || p.VLAN != c.vlan || p.Compressed != c.comp {
				t.Fatalf("unexpected packet; got payload %.10q vlan %d compressed %v; want %.10q %d %v",
					p.Payload, p.VLAN, p.Compressed, c.want, c.vlan, c.comp)
			}
		}
	}
}

func TestDecode_Allocs(t *testing.T) {
	for _, name := range []string{fixture.HEP3, fixture.HEP2} {
		recs := fixture.Load(t, name)
		var d Decoder
		var p Packet
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			if err := d.Decode(recs[i%len(recs)].Datagram, &p); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Fatalf("%s: unexpected allocations per Decode; got %v; want 0", name, allocs)
		}
	}
}

func TestPacket_Time(t *testing.T) {
	f := func(sec, usec uint32, want string) {
		t.Helper()
		p := Packet{TsSec: sec, TsUsec: usec}
		if got := p.Time().Format(time.RFC3339Nano); got != want {
			t.Fatalf("unexpected time; got %s; want %s", got, want)
		}
	}
	f(1795609907, 746644, "2026-11-25T12:31:47.746644Z")
	f(1795609907, 0, "2026-11-25T12:31:47Z")
	f(0, 0, "1970-01-01T00:00:00Z")
	f(0, 1500000, "1970-01-01T00:00:01.5Z") // an agent's usec overflow carries into seconds
}

func TestPacket_Reset(t *testing.T) {
	p := Packet{Version: 3, Payload: []byte("x"), VendorChunks: 2, SrcIP: netip.MustParseAddr("::1")}
	p.Reset()
	if !samePacket(&p, &Packet{}) || p.Version != 0 || p.VendorChunks != 0 || p.Payload != nil {
		t.Fatalf("unexpected packet after Reset; got %+v", p)
	}
}
