package store

import (
	"strings"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
)

var packetColumns = []string{
	"captured_at", "id", "received_at", "call_hash", "capture_id", "src_port", "dst_port",
	"hep_version", "proto_type", "transport", "kind", "status_code", "src_ip", "dst_ip",
	"method", "invalid_reason", "correlation_id",
	"request_uri", "reason", "call_id", "cseq", "cseq_method", "from_uri", "from_tag", "to_uri", "to_tag",
	"via_branch", "user_agent", "contact", "content_type", "raw",
}

// numHeaderColumns counts the header columns, request_uri to content_type,
// that appendHeaderOverrides appends.
const numHeaderColumns = 13

// packetRows feeds a batch to CopyFrom, reusing one values slice and one
// parsed message.
type packetRows struct {
	pkts []hepvault.Packet
	i    int
	vals [31]any
	msg  sip.Message
}

func (r *packetRows) Next() bool { r.i++; return r.i < len(r.pkts) }
func (r *packetRows) Err() error { return nil }

func (r *packetRows) Values() ([]any, error) {
	p := &r.pkts[r.i]
	v := r.vals[:0]
	var status any
	if p.StatusCode != 0 {
		status = int16(p.StatusCode)
	}
	var callHash any
	callID := cleanText(p.CallID)
	if callID != "" {
		callHash = CallHash(callID)
	}
	v = append(v,
		p.CapturedAt, p.ID, p.ReceivedAt, callHash, int64(p.CaptureID), int32(p.SrcPort), int32(p.DstPort),
		int16(p.HEPVersion), int16(p.ProtoType), int16(p.Transport), int16(p.Kind), status, p.SrcIP, p.DstIP,
		text(p.Method), text(p.InvalidReason), text(p.CorrelationID),
	)
	v = r.appendHeaderOverrides(v, p)
	v = append(v, p.Raw)
	return v, nil
}

// appendHeaderOverrides appends the header columns: NULL for each field that
// parsing p.Raw gives back as is (for packets the collector built, every
// field), the field itself otherwise.
func (r *packetRows) appendHeaderOverrides(v []any, p *hepvault.Packet) []any {
	if p.HeadersFromRaw {
		// The collector's parse gave the fields: a second parse would find
		// every one equal.
		var none [numHeaderColumns]any
		return append(v, none[:]...)
	}
	m := &r.msg
	sip.Parse(p.Raw, m) // a parse error still leaves what was read; the fields are compared one by one
	override := func(field string, parsed []byte) any {
		if field == string(parsed) {
			return nil
		}
		return cleanText(field)
	}
	var cseq any
	if want := effectiveCSeq(p.CSeq, p.CSeqMethod); want != effectiveCSeq(m.CSeqNum, string(m.CSeqMethod)) {
		cseq = int64(want)
	}
	return append(v,
		override(p.RequestURI, m.RequestURI), override(p.Reason, m.Reason), override(p.CallID, m.CallID), cseq,
		override(p.CSeqMethod, m.CSeqMethod), override(p.FromURI, m.FromURI), override(p.FromTag, m.FromTag),
		override(p.ToURI, m.ToURI), override(p.ToTag, m.ToTag), override(p.ViaBranch, m.ViaBranch),
		override(p.UserAgent, m.UserAgent), override(p.Contact, m.Contact), override(p.ContentType, m.ContentType),
	)
}

// effectiveCSeq is the CSeq number a packet reads back with: none without a
// CSeq method, as a malformed CSeq header has neither.
func effectiveCSeq(num uint32, method string) uint32 {
	if method == "" {
		return 0
	}
	return num
}

// text stores "" as NULL (free in a row) and makes s acceptable to a
// PostgreSQL text column.
func text(s string) any {
	if s == "" {
		return nil
	}
	return cleanText(s)
}

// cleanText makes s acceptable to a PostgreSQL text column, which refuses NUL
// bytes and invalid UTF-8: both become U+FFFD. The raw column keeps the
// original bytes.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
