package api

import (
	"encoding/base64"
	"net/url"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
)

var urlPathUnescape = url.PathUnescape

// packetJSON is a packet as the API shows it. Fields that do not apply to
// the packet's kind are null, so every packet has the same keys.
type packetJSON struct {
	ID            int64   `json:"id"`
	CapturedAt    string  `json:"captured_at"`
	ReceivedAt    string  `json:"received_at"`
	SrcIP         string  `json:"src_ip"`
	SrcPort       uint16  `json:"src_port"`
	DstIP         string  `json:"dst_ip"`
	DstPort       uint16  `json:"dst_port"`
	Transport     string  `json:"transport"`
	CaptureID     uint32  `json:"capture_id"`
	HEPVersion    uint8   `json:"hep_version"`
	ProtoType     uint8   `json:"proto_type"`
	Kind          string  `json:"kind"`
	Summary       string  `json:"summary"`
	InvalidReason *string `json:"invalid_reason"`
	Method        *string `json:"method"`
	RequestURI    *string `json:"request_uri"`
	StatusCode    *int    `json:"status_code"`
	StatusClass   *string `json:"status_class"`
	Reason        *string `json:"reason"`
	CallID        *string `json:"call_id"`
	CSeq          *uint32 `json:"cseq"`
	CSeqMethod    *string `json:"cseq_method"`
	FromURI       *string `json:"from_uri"`
	FromTag       *string `json:"from_tag"`
	ToURI         *string `json:"to_uri"`
	ToTag         *string `json:"to_tag"`
	FromUser      *string `json:"from_user"`
	ToUser        *string `json:"to_user"`
	RURIUser      *string `json:"ruri_user"`
	PAIUser       *string `json:"pai_user"`
	ViaBranch     *string `json:"via_branch"`
	UserAgent     *string `json:"user_agent"`
	Contact       *string `json:"contact"`
	ContentType   *string `json:"content_type"`
	CorrelationID *string `json:"correlation_id"`
	// CorrelationHeader is the value of the correlating header (X-CID, ...).
	CorrelationHeader *string `json:"correlation_header"`
	// Raw is the message as text. JSON strings hold only valid UTF-8, so when
	// the payload is not, RawBase64 carries it byte for byte as well.
	Raw       string `json:"raw"`
	RawBase64 string `json:"raw_base64,omitempty"`
}

// TimeFormat is how the API writes times: RFC 3339, UTC, microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toJSON(p *hepvault.Packet) packetJSON {
	j := packetJSON{
		ID: p.ID, CapturedAt: p.CapturedAt.UTC().Format(TimeFormat), ReceivedAt: p.ReceivedAt.UTC().Format(TimeFormat),
		SrcIP: p.SrcIP.String(), SrcPort: p.SrcPort, DstIP: p.DstIP.String(), DstPort: p.DstPort,
		Transport: p.Transport.String(), CaptureID: p.CaptureID, HEPVersion: p.HEPVersion, ProtoType: p.ProtoType,
		Kind: p.Kind.String(), Summary: p.Summary(), InvalidReason: opt(p.InvalidReason),
		Method: opt(p.Method), RequestURI: opt(p.RequestURI), Reason: opt(p.Reason),
		CallID: opt(p.CallID), CSeqMethod: opt(p.CSeqMethod), FromURI: opt(p.FromURI), FromTag: opt(p.FromTag),
		ToURI: opt(p.ToURI), ToTag: opt(p.ToTag),
		FromUser: opt(p.FromUser), ToUser: opt(p.ToUser), RURIUser: opt(p.RURIUser), PAIUser: opt(p.PAIUser),
		ViaBranch: opt(p.ViaBranch), UserAgent: opt(p.UserAgent),
		Contact: opt(p.Contact), ContentType: opt(p.ContentType), CorrelationID: opt(p.CorrelationID),
		CorrelationHeader: opt(p.CorrelationHeader),
		Raw:               string(p.Raw),
	}
	if p.Kind == hepvault.KindResponse {
		code, class := p.StatusCode, p.StatusClass().String()
		j.StatusCode, j.StatusClass = &code, &class
	}
	if p.CSeqMethod != "" {
		n := p.CSeq
		j.CSeq = &n
	}
	if !utf8.Valid(p.Raw) {
		j.RawBase64 = base64.StdEncoding.EncodeToString(p.Raw)
	}
	return j
}
