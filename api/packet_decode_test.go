package api

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
)

// TestDecodePackets_RoundTrip checks that what the API writes reads back
// into the same packets.
func TestDecodePackets_RoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 20, 33, 123456000, time.UTC)
	request := hepvault.Packet{
		ID: 7, CapturedAt: at, ReceivedAt: at.Add(time.Millisecond),
		SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 5060, DstIP: netip.MustParseAddr("2001:db8::1"), DstPort: 5080,
		Transport: hepvault.TransportUDP, CaptureID: 4242, HEPVersion: 3, ProtoType: 1,
		Kind: hepvault.KindRequest, Method: "INVITE", RequestURI: "sip:bob@example.com", CallID: "a84b4c76e66710@pc33",
		CSeq: 314159, CSeqMethod: "INVITE", FromURI: "sip:alice@atlanta.com", FromTag: "1928301774",
		ToURI: "sip:bob@biloxi.com", ToTag: "t", FromUser: "alice", ToUser: "bob", RURIUser: "bob", PAIUser: "+49 30 7741528",
		ViaBranch: "z9hG4bK776asdhds", UserAgent: "Kamailio <5.8> & co",
		Contact: "<sip:alice@pc33.atlanta.com>", ContentType: "application/sdp", CorrelationID: "corr",
		Raw: []byte("INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: a84b4c76e66710@pc33\r\n\r\nv=0\r\n"),
	}
	response := hepvault.Packet{
		ID: 8, CapturedAt: at, ReceivedAt: at, SrcIP: netip.MustParseAddr("192.0.2.1"),
		Transport: hepvault.TransportTCP, Kind: hepvault.KindResponse, StatusCode: 180, Reason: "Ringing",
		Raw: []byte("SIP/2.0 180 Ringing\r\n\r\n"),
	}
	binary := hepvault.Packet{ID: 9, CapturedAt: at, ReceivedAt: at, Transport: hepvault.Transport(99),
		Kind: hepvault.KindInvalid, InvalidReason: "no SIP start line", Raw: []byte("\x00\x01\xff\xfe junk\r\n")}
	want := []hepvault.Packet{request, response, binary}
	got, next, err := DecodePackets(appendAnswer(nil, want, "cur<sor>", nil))
	if err != nil {
		t.Fatal(err)
	}
	if next != "cur<sor>" {
		t.Fatalf("unexpected next; got %q; want %q", next, "cur<sor>")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unexpected packets;\ngot  %+v\nwant %+v", got, want)
	}
}

func TestDecodePackets_Failure(t *testing.T) {
	f := func(body, wantErr string) {
		t.Helper()
		_, _, err := DecodePackets([]byte(body))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s: unexpected error; got %v; want one saying %q", body, err, wantErr)
		}
	}
	pkt := `{"packets":[{"id":1,"captured_at":"2026-11-25T12:00:00.000000Z","received_at":"2026-11-25T12:00:00.000000Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","transport":"udp","kind":"request"`
	f(`{"packets":[`, "reading packets")
	f(`{"packets":[{"captured_at":"yesterday"}]}`, "captured_at")
	f(strings.Replace(pkt, `"10.0.0.1"`, `"10.0.0"`, 1)+`}]}`, "src_ip")
	f(strings.Replace(pkt, `"request"`, `"reply"`, 1)+`}]}`, `kind "reply"`)
	f(strings.Replace(pkt, `"udp"`, `"carrier pigeon"`, 1)+`}]}`, "transport")
	f(pkt+`,"raw_base64":"!!"}]}`, "raw_base64")
	if _, _, err := DecodePackets([]byte(pkt + `}]}`)); err != nil {
		t.Fatalf("unexpected error for a valid packet; got %v", err)
	}
	var se *json.SyntaxError
	_, _, err := DecodePackets([]byte(`nope`))
	if !errors.As(err, &se) {
		t.Fatalf("unexpected error; got %v; want a wrapped *json.SyntaxError", err)
	}
}
