package hepvault

import (
	"net/netip"
	"time"
)

// Transport is the IP protocol a SIP message travelled on (HEP3 chunk 0x0002).
type Transport uint8

// IP protocol numbers seen in HEP.
const (
	TransportTCP  Transport = 6
	TransportUDP  Transport = 17
	TransportSCTP Transport = 132
)

// String names the transport as people write it ("udp"), or "ip<N>" for others.
func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportUDP:
		return "udp"
	case TransportSCTP:
		return "sctp"
	}
	return "ip" + itoa(int(t))
}

// ParseTransport is the inverse of Transport.String.
func ParseTransport(s string) (Transport, bool) {
	switch s {
	case "tcp":
		return TransportTCP, true
	case "udp":
		return TransportUDP, true
	case "sctp":
		return TransportSCTP, true
	}
	if len(s) > 2 && s[:2] == "ip" {
		n := 0
		for _, c := range s[2:] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
			if n > 255 {
				return 0, false
			}
		}
		return Transport(n), true
	}
	return 0, false
}

// Packet is one captured SIP message as hepvault stores and returns it: the
// HEP envelope (who captured it, when, between which addresses) and the SIP
// classification and header fields parsed from Raw.
type Packet struct {
	// ID orders packets that share a capture time by arrival; assigned by
	// the collector, unique and increasing within one hepvault process.
	// Packets loaded by `hepvault import` get an id derived from their
	// content instead (collector/capture), so a second import finds them.
	ID int64

	CapturedAt time.Time // HEP timestamp (chunks 0x0009/0x000a), microseconds
	ReceivedAt time.Time // when hepvault read it from the socket; imported: the capture file's time of the packet

	CaptureID     uint32 // capture agent id (chunk 0x000c)
	HEPVersion    uint8  // 1, 2 or 3; 0: not HEP, plain SIP read off the wire by `hepvault import`
	ProtoType     uint8  // HEP payload type (chunk 0x000b); 1 is SIP
	CorrelationID string // chunk 0x0011, when the agent sent one

	SrcIP     netip.Addr
	SrcPort   uint16
	DstIP     netip.Addr
	DstPort   uint16
	Transport Transport

	Kind          Kind
	InvalidReason string // why Kind is KindInvalid

	Method     string // requests
	RequestURI string
	StatusCode int    // responses, 100–699
	Reason     string // responses: the reason phrase

	CallID     string
	CSeq       uint32
	CSeqMethod string
	FromURI    string
	FromTag    string
	ToURI      string
	ToTag      string
	// The user parts of the From, To, Request-URI and P-Asserted-Identity
	// URIs, percent-decoded; for a tel: URI its number. Extracted when the
	// packet is received and stored as extracted.
	FromUser    string
	ToUser      string
	RURIUser    string
	PAIUser     string
	ViaBranch   string
	UserAgent   string // User-Agent, or Server for responses that carry it
	Contact     string
	ContentType string
	// CorrelationHeader is the value of the message's first correlating
	// header (X-CID, X-Call-ID, or one named with --correlation-header),
	// which links the legs of a call through a B2BUA, as CorrelationID does.
	CorrelationHeader string

	Raw []byte // the payload, byte for byte
}

// StatusClass is the class of a response status code (RFC 3261 §7.2).
func (p *Packet) StatusClass() StatusClass { return ClassOf(p.StatusCode) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Summary is the one-line classification people read:
// "request INVITE", "response 180 Ringing (1xx Informational)",
// "invalid (no SIP start line)".
func (p *Packet) Summary() string {
	switch p.Kind {
	case KindRequest:
		return "request " + p.Method
	case KindResponse:
		c := p.StatusClass()
		s := "response " + itoa(p.StatusCode)
		if p.Reason != "" {
			s += " " + p.Reason
		}
		return s + " (" + c.String() + " " + c.Description() + ")"
	}
	if p.InvalidReason != "" {
		return "invalid (" + p.InvalidReason + ")"
	}
	return "invalid"
}
