package api

import (
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
)

// appendText appends packets for a person, in the spirit of ngrep -W byline:
// a header line per packet (number, capture time, transport, source ->
// destination, classification), then the message line by line. It appends
// to one buffer, without fmt or intermediate strings, as the JSON answer does.
func appendText(dst []byte, pkts []hepvault.Packet, next string) []byte {
	if len(pkts) == 0 {
		return append(dst, "no packets match\n"...)
	}
	for i := range pkts {
		p := &pkts[i]
		dst = append(dst, '#')
		dst = strconv.AppendInt(dst, int64(i+1), 10)
		dst = append(dst, ' ')
		dst = p.CapturedAt.UTC().AppendFormat(dst, TimeFormat)
		dst = append(dst, ' ')
		dst = appendUpperASCII(dst, p.Transport.String())
		dst = append(dst, ' ')
		dst = appendHostPort(dst, p.SrcIP, p.SrcPort)
		dst = append(dst, " -> "...)
		dst = appendHostPort(dst, p.DstIP, p.DstPort)
		dst = append(dst, "  "...)
		dst = append(dst, p.Summary()...)
		dst = appendField(dst, "  correlation_id ", p.CorrelationID)
		dst = appendField(dst, "  correlation_header ", p.CorrelationHeader)
		dst = append(dst, '\n')
		dst = appendMessage(dst, p.Raw)
		dst = append(dst, '\n')
	}
	if next != "" {
		dst = append(dst, "(more packets follow: add --cursor "...)
		dst = append(dst, next...)
		dst = append(dst, " to the query, or cursor="...)
		dst = append(dst, next...)
		dst = append(dst, " to the URL)\n"...)
	}
	return dst
}

// appendField appends name and v when v is set, v's control characters as
// '.', as in the message, so that the packet's line stays one line.
func appendField(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, name...)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f {
			c = '.'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendUpperASCII appends s with a-z upper-cased (transport names are ASCII).
func appendUpperASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func appendHostPort(dst []byte, a netip.Addr, port uint16) []byte {
	ap := netip.AddrPortFrom(a, port)
	if !a.IsValid() {
		return append(dst, ap.String()...)
	}
	return ap.AppendTo(dst)
}

// appendMessage appends the payload's lines, CRLF as a line end, every other
// control byte as '.', and each run of invalid UTF-8 as one '.', as ngrep
// does, so a terminal shows exactly one line per SIP line. Trailing line ends
// are dropped and one is added.
func appendMessage(dst []byte, raw []byte) []byte {
	end := len(raw)
	for end > 0 && raw[end-1] == '\n' {
		end--
		if end > 0 && raw[end-1] == '\r' {
			end--
		}
	}
	invalidRun := false
	for i := 0; i < end; {
		b := raw[i]
		if b < utf8.RuneSelf {
			invalidRun = false
			switch {
			case b == '\r' && i+1 < end && raw[i+1] == '\n':
				dst = append(dst, '\n')
				i += 2
				continue
			case b == '\n' || b == '\t':
				dst = append(dst, b)
			case b < 0x20 || b == 0x7f:
				dst = append(dst, '.')
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:end])
		if r == utf8.RuneError && size == 1 {
			if !invalidRun {
				dst = append(dst, '.')
			}
			invalidRun = true
			i++
			continue
		}
		invalidRun = false
		dst = append(dst, raw[i:i+size]...)
		i += size
	}
	return append(dst, '\n')
}
