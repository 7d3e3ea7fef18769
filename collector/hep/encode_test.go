package hep

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestAppendV3_RoundTrip(t *testing.T) {
	f := func(name string, p Packet) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			prefix := []byte("prefix")
			buf := AppendV3(bytes.Clone(prefix), &p)
			if !bytes.HasPrefix(buf, prefix) {
				t.Fatalf("AppendV3 overwrote dst")
			}
			buf = buf[len(prefix):]
			if len(buf) != V3Len(&p) {
				t.Fatalf("unexpected length; got %d; V3Len says %d", len(buf), V3Len(&p))
			}
			var d Decoder
			var got Packet
			if err := d.Decode(buf, &got); err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.Version != 3 || !samePacket(&got, &p) {
				t.Fatalf("unexpected packet;\ngot  %+v\nwant %+v", got, p)
			}
		})
	}
	full := Packet{
		Family: FamilyIPv4, Proto: 17, ProtoType: ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5062, TsSec: 1795609907, TsUsec: 999999, CaptureID: 0xdeadbeef,
		KeepAlive: 60, VLAN: 4094, AuthKey: []byte("secret"), Payload: []byte(testSIP),
		CorrelationID: []byte("corr"), NodeName: []byte("node-1"),
	}
	f("all fields", full)
	f("minimal", Packet{Payload: []byte("x")})

	ip6 := full
	ip6.Family, ip6.Proto = FamilyIPv6, 132
	ip6.SrcIP, ip6.DstIP = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1")
	f("ipv6 sctp", ip6)

	mixed := full
	mixed.DstIP = netip.MustParseAddr("::ffff:192.0.2.2") // 4in6 stays 16 bytes
	f("4in6", mixed)

	noSrc := full
	noSrc.SrcIP = netip.Addr{}
	f("no source address", noSrc)

	big := full
	big.Payload = bytes.Repeat([]byte("a"), MaxV3Len-V3Len(&full)+len(full.Payload))
	f("largest", big)
}

func TestAppendV3_TooBig(t *testing.T) {
	p := Packet{Payload: make([]byte, MaxV3Len)}
	if V3Len(&p) <= MaxV3Len {
		t.Fatalf("unexpected V3Len; got %d; want > %d", V3Len(&p), MaxV3Len)
	}
	defer func() {
		if recover() == nil {
			t.Fatalf("AppendV3 of %d bytes did not panic", V3Len(&p))
		}
	}()
	AppendV3(nil, &p)
}

func TestAppendV3_Allocs(t *testing.T) {
	p := Packet{Family: FamilyIPv4, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		AuthKey: []byte("k"), Payload: []byte(testSIP)}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendV3(buf[:0], &p) }); n != 0 {
		t.Fatalf("unexpected allocations per AppendV3; got %v; want 0", n)
	}
}
