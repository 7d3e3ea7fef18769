package api

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hepvault/hepvault"
)

// writeText writes packets for a person, in the spirit of ngrep -W byline:
// a header line per packet (number, capture time, transport, source ->
// destination, classification), then the message line by line.
func writeText(b *strings.Builder, pkts []hepvault.Packet, next string) {
	if len(pkts) == 0 {
		b.WriteString("no packets match\n")
		return
	}
	for i := range pkts {
		p := &pkts[i]
		fmt.Fprintf(b, "#%d %s %s %s -> %s  %s\n", i+1, p.CapturedAt.UTC().Format(TimeFormat),
			strings.ToUpper(p.Transport.String()), hostPort(p.SrcIP, p.SrcPort), hostPort(p.DstIP, p.DstPort), p.Summary())
		writeMessage(b, p.Raw)
		b.WriteByte('\n')
	}
	if next != "" {
		fmt.Fprintf(b, "(more packets follow: add --cursor %s to the query, or cursor=%s to the URL)\n", next, next)
	}
}

func hostPort(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// writeMessage prints the payload's lines, CRLF as a line end, and every other
// control byte or invalid UTF-8 as '.', as ngrep does, so a terminal shows
// exactly one line per SIP line.
func writeMessage(b *strings.Builder, raw []byte) {
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
