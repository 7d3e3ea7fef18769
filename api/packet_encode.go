package api

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
)

// The answer of a packet query is written by hand rather than through
// encoding/json's reflection: per packet that saved a struct of ~20 string
// pointers, a string copy of raw and the encoder's growing buffer, which
// were most of the API's CPU for a page of 100 packets. The bytes are the
// same as encoding/json's Encoder (HTML-safe escaping, trailing newline)
// writes for packetsAnswer; TestAppendAnswer_MatchesEncodingJSON holds
// the two together, so a field added to packetJSON must be added here too.

// answerBuffers keeps answer buffers between requests; one too large to
// keep (a page of thousands of packets) is left to the collector.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooledAnswer = 1 << 20

// appendAnswer appends {"packets":[...],"next":...,"legs":[...]} and a
// newline to dst; legs only when not nil.
func appendAnswer(dst []byte, pkts []hepvault.Packet, next string, legs []string) []byte {
	dst = append(dst, `{"packets":[`...)
	for i := range pkts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendPacket(dst, &pkts[i])
	}
	dst = append(dst, ']')
	if next != "" {
		dst = append(dst, `,"next":`...)
		dst = appendString(dst, next)
	}
	if legs != nil {
		dst = append(dst, `,"legs":[`...)
		for i, l := range legs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, l)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}\n"...)
}

// appendPacket appends p as packetJSON shows it, keys in the same order.
func appendPacket(dst []byte, p *hepvault.Packet) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, p.ID, 10)
	dst = append(dst, `,"captured_at":"`...)
	dst = p.CapturedAt.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","received_at":"`...)
	dst = p.ReceivedAt.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","src_ip":`...)
	dst = appendAddr(dst, p.SrcIP)
	dst = append(dst, `,"src_port":`...)
	dst = strconv.AppendUint(dst, uint64(p.SrcPort), 10)
	dst = append(dst, `,"dst_ip":`...)
	dst = appendAddr(dst, p.DstIP)
	dst = append(dst, `,"dst_port":`...)
	dst = strconv.AppendUint(dst, uint64(p.DstPort), 10)
	dst = append(dst, `,"transport":`...)
	dst = appendString(dst, p.Transport.String())
	dst = append(dst, `,"capture_id":`...)
	dst = strconv.AppendUint(dst, uint64(p.CaptureID), 10)
	dst = append(dst, `,"hep_version":`...)
	dst = strconv.AppendUint(dst, uint64(p.HEPVersion), 10)
	dst = append(dst, `,"proto_type":`...)
	dst = strconv.AppendUint(dst, uint64(p.ProtoType), 10)
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, p.Kind.String())
	dst = append(dst, `,"summary":`...)
	dst = appendString(dst, p.Summary())
	dst = appendOpt(dst, `,"invalid_reason":`, p.InvalidReason)
	dst = appendOpt(dst, `,"method":`, p.Method)
	dst = appendOpt(dst, `,"request_uri":`, p.RequestURI)
	if p.Kind == hepvault.KindResponse {
		dst = append(dst, `,"status_code":`...)
		dst = strconv.AppendInt(dst, int64(p.StatusCode), 10)
		dst = append(dst, `,"status_class":`...)
		dst = appendString(dst, p.StatusClass().String())
	} else {
		dst = append(dst, `,"status_code":null,"status_class":null`...)
	}
	dst = appendOpt(dst, `,"reason":`, p.Reason)
	dst = appendOpt(dst, `,"call_id":`, p.CallID)
	if p.CSeqMethod != "" {
		dst = append(dst, `,"cseq":`...)
		dst = strconv.AppendUint(dst, uint64(p.CSeq), 10)
	} else {
		dst = append(dst, `,"cseq":null`...)
	}
	dst = appendOpt(dst, `,"cseq_method":`, p.CSeqMethod)
	dst = appendOpt(dst, `,"from_uri":`, p.FromURI)
	dst = appendOpt(dst, `,"from_tag":`, p.FromTag)
	dst = appendOpt(dst, `,"to_uri":`, p.ToURI)
	dst = appendOpt(dst, `,"to_tag":`, p.ToTag)
	dst = appendOpt(dst, `,"from_user":`, p.FromUser)
	dst = appendOpt(dst, `,"to_user":`, p.ToUser)
	dst = appendOpt(dst, `,"ruri_user":`, p.RURIUser)
	dst = appendOpt(dst, `,"pai_user":`, p.PAIUser)
	dst = appendOpt(dst, `,"via_branch":`, p.ViaBranch)
	dst = appendOpt(dst, `,"user_agent":`, p.UserAgent)
	dst = appendOpt(dst, `,"contact":`, p.Contact)
	dst = appendOpt(dst, `,"content_type":`, p.ContentType)
	dst = appendOpt(dst, `,"correlation_id":`, p.CorrelationID)
	dst = appendOpt(dst, `,"correlation_header":`, p.CorrelationHeader)
	dst = append(dst, `,"raw":`...)
	dst = appendString(dst, p.Raw)
	if !utf8.Valid(p.Raw) {
		dst = append(dst, `,"raw_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, p.Raw)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendOpt appends key and s, or null for "" as opt does.
func appendOpt(dst []byte, key, s string) []byte {
	dst = append(dst, key...)
	if s == "" {
		return append(dst, "null"...)
	}
	return appendString(dst, s)
}

// appendAddr appends a as netip.Addr.String writes it, without the string.
func appendAddr(dst []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return appendString(dst, a.String())
	}
	var buf [64]byte
	return appendString(dst, a.AppendTo(buf[:0]))
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does with
// HTML escaping on (its default): <, > and & as \u003c.., control bytes as
// \n-style or \u00XX escapes, each invalid UTF-8 byte as \ufffd, and U+2028
// and U+2029 escaped.
func appendString[T []byte | string](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		var r rune
		var size int
		switch v := any(s).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, size = utf8.DecodeRune(v[i:])
		}
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
