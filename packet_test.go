package hepvault

import "testing"

func TestSummary(t *testing.T) {
	f := func(p Packet, want string) {
		t.Helper()
		if got := p.Summary(); got != want {
			t.Fatalf("unexpected summary; got %q; want %q", got, want)
		}
	}
	f(Packet{Kind: KindRequest, Method: "INVITE"}, "request INVITE")
	f(Packet{Kind: KindResponse, StatusCode: 180, Reason: "Ringing"}, "response 180 Ringing (1xx Informational)")
	f(Packet{Kind: KindResponse, StatusCode: 200, Reason: "OK"}, "response 200 OK (2xx Success)")
	f(Packet{Kind: KindResponse, StatusCode: 302, Reason: "Moved Temporarily"}, "response 302 Moved Temporarily (3xx Redirection)")
	f(Packet{Kind: KindResponse, StatusCode: 486, Reason: "Busy Here"}, "response 486 Busy Here (4xx Request failure)")
	f(Packet{Kind: KindResponse, StatusCode: 503}, "response 503 (5xx Server error)")
	f(Packet{Kind: KindResponse, StatusCode: 603, Reason: "Decline"}, "response 603 Decline (6xx Global failure)")
	f(Packet{Kind: KindInvalid, InvalidReason: "no SIP start line"}, "invalid (no SIP start line)")
	f(Packet{}, "invalid")
}

func TestTransportRoundTrip(t *testing.T) {
	for _, tr := range []Transport{TransportTCP, TransportUDP, TransportSCTP, 47} {
		got, ok := ParseTransport(tr.String())
		if !ok || got != tr {
			t.Fatalf("unexpected round trip of %d; got %d, %v", tr, got, ok)
		}
	}
	if _, ok := ParseTransport("ip999"); ok {
		t.Fatal("ip999 accepted")
	}
}
