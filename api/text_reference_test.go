package api

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
)

// writeTextReference is the text view as first written, with fmt and
// strings; appendText must give the same bytes. It writes packets for a person, in the spirit of ngrep -W byline:
// a header line per packet (number, capture time, transport, source ->
// destination, classification), then the message line by line.
func writeTextReference(b *strings.Builder, pkts []hepvault.Packet, next string) {
	if len(pkts) == 0 {
		b.WriteString("no packets match\n")
		return
	}
	for i := range pkts {
		p := &pkts[i]
		fmt.Fprintf(b, "#%d %s %s %s -> %s  %s", i+1, p.CapturedAt.UTC().Format(TimeFormat),
			strings.ToUpper(p.Transport.String()), hostPortReference(p.SrcIP, p.SrcPort), hostPortReference(p.DstIP, p.DstPort), p.Summary())
		oneLine := func(s string) string {
			var o []byte
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] == 0x7f {
					o = append(o, '.')
				} else {
					o = append(o, s[i])
				}
			}
			return string(o)
		}
		if p.CorrelationID != "" {
			fmt.Fprintf(b, "  correlation_id %s", oneLine(p.CorrelationID))
		}
		if p.CorrelationHeader != "" {
			fmt.Fprintf(b, "  correlation_header %s", oneLine(p.CorrelationHeader))
		}
		b.WriteByte('\n')
		writeMessageReference(b, p.Raw)
		b.WriteByte('\n')
	}
	if next != "" {
		fmt.Fprintf(b, "(more packets follow: add --cursor %s to the query, or cursor=%s to the URL)\n", next, next)
	}
}

func hostPortReference(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// writeMessage prints the payload's lines, CRLF as a line end, and every other
// control byte or invalid UTF-8 as '.', as ngrep does, so a terminal shows
// exactly one line per SIP line.
func writeMessageReference(b *strings.Builder, raw []byte) {
	s := strings.ToValidUTF8(string(raw), ".")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte('.')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\n')
}

// TestAppendText_MatchesReference checks the text view against the first
// implementation, for ordinary and odd packets.
func TestAppendText_MatchesReference(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 20, 33, 123456000, time.FixedZone("x", -7200))
	f := func(name string, pkts []hepvault.Packet, next string) {
		t.Helper()
		var want strings.Builder
		writeTextReference(&want, pkts, next)
		if got := string(appendText(nil, pkts, next)); got != want.String() {
			t.Errorf("%s: unexpected text;\ngot  %q\nwant %q", name, got, want.String())
		}
	}
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	f("none", nil, "")
	f("request", []hepvault.Packet{{CapturedAt: at, Transport: hepvault.TransportUDP, SrcIP: v4, SrcPort: 5060, DstIP: v6, DstPort: 5080,
		Kind: hepvault.KindRequest, Method: "INVITE", Raw: []byte("INVITE sip:b@x SIP/2.0\r\nCall-ID: 1\r\n\r\nv=0\r\n")}}, "")
	f("odd", []hepvault.Packet{
		{Transport: hepvault.Transport(99), Kind: hepvault.KindResponse, StatusCode: 180, Reason: "Ringing",
			Raw: []byte("\x00a\rb\r\r\n\xff\xfe\xe2\x80x\t\x7fé🎉\r\n\n\r\n")},
		{Kind: hepvault.KindInvalid, InvalidReason: "no start line", Raw: []byte("\r"), CorrelationID: "a\x00\x7f\nb"},
		{Kind: hepvault.KindRequest, Method: "INVITE", CorrelationHeader: "icid é\t1", Raw: []byte("x")},
		{Kind: hepvault.KindInvalid, Raw: nil},
		{Kind: hepvault.KindInvalid, Raw: []byte("\n\r\n\xef\xbf\xbd\xc3")},
	}, "next<cursor>")
}

// FuzzAppendMessage checks the message lines against the first implementation
// for any bytes.
func FuzzAppendMessage(f *testing.F) {
	for _, s := range []string{"", "a\r\nb\r\n\r\n", "\x00\xff\xfe\r\r\n", "é\u2028\t\x7f\n\n", "\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want strings.Builder
		writeMessageReference(&want, raw)
		if got := string(appendMessage(nil, raw)); got != want.String() {
			t.Fatalf("unexpected lines of %q; got %q; want %q", raw, got, want.String())
		}
	})
}
