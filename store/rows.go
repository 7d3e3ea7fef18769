package store

import (
	"strings"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
)

var packetColumns = []string{
	"captured_at", "id", "received_at", "capture_id", "hep_version", "proto_type", "transport",
	"src_ip", "src_port", "dst_ip", "dst_port", "kind", "invalid_reason",
	"method", "request_uri", "status_code", "reason", "call_id", "cseq", "cseq_method",
	"from_uri", "from_tag", "to_uri", "to_tag", "via_branch", "user_agent", "contact", "content_type",
	"correlation_id", "raw",
}

// packetRows feeds a batch to CopyFrom, reusing one values slice.
type packetRows struct {
	pkts []hepvault.Packet
	i    int
	vals [30]any
}

func (r *packetRows) Next() bool { r.i++; return r.i < len(r.pkts) }
func (r *packetRows) Err() error { return nil }

func (r *packetRows) Values() ([]any, error) {
	p := &r.pkts[r.i]
	v := r.vals[:0]
	var cseq any
	if p.CSeqMethod != "" {
		cseq = int64(p.CSeq)
	}
	var status any
	if p.StatusCode != 0 {
		status = int16(p.StatusCode)
	}
	v = append(v,
		p.CapturedAt, p.ID, p.ReceivedAt, int64(p.CaptureID), int16(p.HEPVersion), int16(p.ProtoType), int16(p.Transport),
		p.SrcIP, int32(p.SrcPort), p.DstIP, int32(p.DstPort), int16(p.Kind), text(p.InvalidReason),
		text(p.Method), text(p.RequestURI), status, text(p.Reason), text(p.CallID), cseq, text(p.CSeqMethod),
		text(p.FromURI), text(p.FromTag), text(p.ToURI), text(p.ToTag), text(p.ViaBranch), text(p.UserAgent),
		text(p.Contact), text(p.ContentType), text(p.CorrelationID), p.Raw,
	)
	return v, nil
}

// text stores "" as NULL (free in a row) and makes s acceptable to a
// PostgreSQL text column, which refuses NUL bytes and invalid UTF-8; the raw
// column keeps the original bytes.
func text(s string) any {
	if s == "" {
		return nil
	}
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
