package sip

import (
	"strconv"
	"strings"

	"github.com/hepvault/hepvault"
)

// Message is one parsed SIP message. Its byte-slice fields alias the buffer
// given to Parse (a folded header value excepted: it is joined into a
// scratch buffer the Message owns), so they are valid as long as that buffer
// is unchanged and until the next Parse or Reset of the Message. Copy what
// must outlive them. Absent headers leave their fields empty.
type Message struct {
	// Kind is KindRequest or KindResponse for a message Parse accepted,
	// KindInvalid otherwise, with the reason in Err.
	Kind hepvault.Kind
	// Err is the error Parse returned: why Kind is KindInvalid.
	Err error

	// Request-Line (RFC 3261 §7.1): requests only. Method is kept as sent,
	// extension methods included; MethodOf types it.
	Method     []byte
	RequestURI []byte
	// Status-Line (§7.2): responses only. StatusCode is 100–699; Reason may
	// be empty and need not be UTF-8.
	StatusCode int
	Reason     []byte
	// Version is the SIP-Version of the start line, as sent ("SIP/2.0").
	Version []byte

	CallID     []byte // Call-ID (§20.8)
	CSeqNum    uint32 // CSeq sequence number (§20.16); 0 when malformed
	CSeqMethod []byte // CSeq method
	FromURI    []byte // From addr-spec, without <> (§20.20)
	FromTag    []byte // From tag parameter
	ToURI      []byte // To addr-spec, without <> (§20.39)
	ToTag      []byte // To tag parameter; empty in a dialog-creating request
	PAIURI     []byte // P-Asserted-Identity (RFC 3325 §9.1): its first value's URI, without <>
	ViaBranch  []byte // branch parameter of the topmost Via value (§20.42)
	// UserAgent is the User-Agent header (§20.41), or when it is absent or
	// empty the Server header (§20.35) that responses carry instead.
	UserAgent   []byte
	Contact     []byte // value of the first Contact header, as is (§20.10)
	ContentType []byte // Content-Type (§20.15), as is
	// Correlation is the value of the first correlating header, which links
	// the legs of a call through a B2BUA: X-CID, X-Call-ID, or one given
	// to ParseWith (its parameter's value when it names one).
	Correlation []byte
	// ContentLength is the Content-Length as declared (§20.14), which may
	// exceed len(Body); -1 when absent or not a number, math.MaxInt when too
	// large for an int.
	ContentLength int

	// HeaderCount is the number of header fields: a folded field counts
	// once, and so does a line of several comma-separated values.
	HeaderCount int
	// Body is what follows the empty line, cut to ContentLength when that
	// is shorter.
	Body []byte

	scratch []byte // joined folded values; kept over Reset to be reused
}

// Reset clears m for reuse, keeping its scratch buffer.
func (m *Message) Reset() {
	*m = Message{ContentLength: -1, scratch: m.scratch[:0]}
}

// Class is the status class of a response, 0 when there is no status code.
func (m *Message) Class() hepvault.StatusClass { return hepvault.ClassOf(m.StatusCode) }

// Summary is the one-line classification shown by the CLI:
// "request INVITE", "response 180 Ringing (1xx Informational)" or
// "invalid: <reason>". It allocates; it is meant for display.
func (m *Message) Summary() string {
	switch m.Kind {
	case hepvault.KindRequest:
		return "request " + string(m.Method)
	case hepvault.KindResponse:
		var b strings.Builder
		b.WriteString("response ")
		b.WriteString(strconv.Itoa(m.StatusCode))
		if len(m.Reason) > 0 {
			b.WriteByte(' ')
			b.Write(m.Reason)
		}
		c := m.Class()
		b.WriteString(" (" + c.String() + " " + c.Description() + ")")
		return b.String()
	}
	if m.Err == nil {
		return "invalid: not parsed"
	}
	return "invalid: " + strings.TrimPrefix(m.Err.Error(), "sip: ")
}
