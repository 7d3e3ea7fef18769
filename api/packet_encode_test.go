package api

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
)

// TestAppendAnswer_MatchesEncodingJSON checks that the hand-written answer
// is byte for byte what encoding/json's Encoder makes of packetJSON, for
// ordinary packets and for odd ones.
func TestAppendAnswer_MatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 20, 33, 123456789, time.FixedZone("x", 3600))
	request := hepvault.Packet{
		ID: 7, CapturedAt: at, ReceivedAt: at.Add(time.Millisecond),
		SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 5060, DstIP: netip.MustParseAddr("2001:db8::1"), DstPort: 5080,
		Transport: hepvault.TransportUDP, CaptureID: 4242, HEPVersion: 3, ProtoType: 1,
		Kind: hepvault.KindRequest, Method: "INVITE", RequestURI: "sip:bob@example.com", CallID: "a84b4c76e66710@pc33",
		CSeq: 314159, CSeqMethod: "INVITE", FromURI: "sip:alice@atlanta.com", FromTag: "1928301774",
		ToURI: "sip:bob@biloxi.com", FromUser: "alice", ToUser: "bob", RURIUser: "bob", PAIUser: "+49 30 7741528",
		ViaBranch: "z9hG4bK776asdhds", UserAgent: "Kamailio <5.8> & co",
		Contact: "<sip:alice@pc33.atlanta.com>", ContentType: "application/sdp", CorrelationID: "corr",
		Raw: []byte("INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: a84b4c76e66710@pc33\r\n\r\nv=0\r\n"),
	}
	response := hepvault.Packet{
		ID: 8, CapturedAt: at, ReceivedAt: at, SrcIP: netip.MustParseAddr("::ffff:192.0.2.1"),
		Transport: hepvault.TransportTCP, Kind: hepvault.KindResponse, StatusCode: 180, Reason: "Ringing",
		Raw: []byte("SIP/2.0 180 Ringing\r\n\r\n"),
	}
	odd := hepvault.Packet{
		ID: -1, Transport: hepvault.Transport(99), Kind: hepvault.KindInvalid, InvalidReason: "bad \"start\" line\\",
		Method: "\x00NUL\x01\x1f\x7f", CallID: "\xff\xfeinvalid\xc3(utf8", FromTag: "\u2028line\u2029sep\b\f\t",
		Reason: "日本語 émoji 🎉", FromUser: "a<b>&c\"d\\", ToUser: "\xffbad\x00", PAIUser: "ü\u2028", CorrelationHeader: "icid\u2028<1>", CSeqMethod: "", CSeq: 5, // a CSeq number without method shows null
		Raw: []byte("\x00\x01\xff\xfe junk \xe2\x80\xa8 <script>\r\n"),
	}
	emptyRaw := hepvault.Packet{ID: 9, Kind: hepvault.KindInvalid, Raw: []byte{}}
	noStatus := hepvault.Packet{ID: 10, Kind: hepvault.KindResponse, Raw: nil}

	f := func(name string, pkts []hepvault.Packet, next string, legs ...[]string) {
		t.Helper()
		want := packetsAnswer{Packets: make([]packetJSON, len(pkts)), Next: next}
		var l []string
		if len(legs) > 0 {
			l = legs[0]
			want.Legs = &l
		}
		for i := range pkts {
			want.Packets[i] = toJSON(&pkts[i])
		}
		var wantBuf bytes.Buffer
		if err := json.NewEncoder(&wantBuf).Encode(want); err != nil {
			t.Fatal(err)
		}
		got := appendAnswer(nil, pkts, next, l)
		if !bytes.Equal(got, wantBuf.Bytes()) {
			t.Errorf("%s: unexpected answer;\ngot  %s\nwant %s", name, got, wantBuf.Bytes())
		}
	}
	f("empty", nil, "")
	f("a call without legs", []hepvault.Packet{request}, "", []string{})
	f("a call with legs", []hepvault.Packet{request}, "", []string{"leg-b@10.0.0.1", "<leg \"c\">\u2028"})
	f("request", []hepvault.Packet{request}, "")
	f("response", []hepvault.Packet{response}, "")
	f("odd", []hepvault.Packet{odd}, "")
	f("empty raw", []hepvault.Packet{emptyRaw}, "")
	f("response without code", []hepvault.Packet{noStatus}, "")
	f("page with next", []hepvault.Packet{request, response, odd, emptyRaw}, "MTc2NDA3MzIzMzEyMzQ1Ni03<&>")
}

// TestAppendPacket_Users checks the user fields: the user parts as
// extracted, null when a packet has none.
func TestAppendPacket_Users(t *testing.T) {
	f := func(p hepvault.Packet, want string) {
		t.Helper()
		got := appendPacket(nil, &p)
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("unexpected packet; got %s; want it to contain %s", got, want)
		}
	}
	f(hepvault.Packet{FromUser: "alice", ToUser: "+49 30 7741528", RURIUser: "bob", PAIUser: "1001"},
		`"to_tag":null,"from_user":"alice","to_user":"+49 30 7741528","ruri_user":"bob","pai_user":"1001","via_branch":null`)
	f(hepvault.Packet{FromUser: "alice"}, `"from_user":"alice","to_user":null,"ruri_user":null,"pai_user":null`)
	f(hepvault.Packet{}, `"from_user":null,"to_user":null,"ruri_user":null,"pai_user":null`)
}

// FuzzAppendString checks the string escaping against encoding/json for any
// bytes.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\x1f\x7f", "<>&\"\\", "\u2028\u2029", "\xff\xc3(", "é🎉"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("unexpected string encoding of %q; got %s; want %s", s, got, want)
		}
		if got := appendString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("unexpected []byte encoding of %q; got %s; want %s", s, got, want)
		}
	})
}

// The text answer's packet line names the correlations, when there are,
// on one line whatever bytes they hold.
func TestAppendText_Correlations(t *testing.T) {
	at := time.Date(2026, 12, 7, 4, 16, 45, 254837000, time.UTC)
	p := hepvault.Packet{ID: 1, CapturedAt: at, Transport: hepvault.TransportUDP, Kind: hepvault.KindRequest, Method: "INVITE",
		SrcIP: netip.MustParseAddr("127.0.0.1"), SrcPort: 5060, DstIP: netip.MustParseAddr("127.0.0.1"), DstPort: 5070,
		CorrelationID: "hep\r\nid", CorrelationHeader: "1-30586@127.0.0.1", Raw: []byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\r\n")}
	got := string(appendText(nil, []hepvault.Packet{p}, ""))
	want := "#1 2026-12-07T04:16:45.254837Z UDP 127.0.0.1:5060 -> 127.0.0.1:5070  request INVITE" +
		"  correlation_id hep..id  correlation_header 1-30586@127.0.0.1\n"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("unexpected text; got\n%q\nwant it to start with\n%q", got, want)
	}
	p.CorrelationID, p.CorrelationHeader = "", ""
	if got := string(appendText(nil, []hepvault.Packet{p}, "")); strings.Contains(strings.SplitN(got, "\n", 2)[0], "correlation") {
		t.Fatalf("unexpected correlation on a packet without any: %q", got)
	}
}
