package capture

import "time"

// Reason says why (part of) a captured packet gave no SIP message.
type Reason uint8

// Reasons, each with a counter in Stats.Skipped. They count capture
// records, except ReasonTCPGap and ReasonTCPUnfinished, which count holes
// in a TCP stream and streams that ended in the middle of a message, and
// ReasonFragment for IPv4, which counts datagrams left incomplete.
const (
	ReasonLinkType      Reason = iota // a link type this package does not read
	ReasonNotIP                       // ARP, LLDP, ...
	ReasonNotUDPTCP                   // ICMP, SCTP, ...
	ReasonTruncated                   // cut short by the capture's snap length, or the file ends inside it
	ReasonMalformed                   // IP, UDP or TCP header that does not decode
	ReasonFragment                    // IPv6 fragments (not reassembled); IPv4 datagrams whose fragments never all came
	ReasonNoPayload                   // UDP or TCP without data (TCP handshakes and acks)
	ReasonKeepalive                   // CRLF keep-alives (RFC 5626 §4.4.1)
	ReasonNotSIP                      // neither HEP nor SIP
	ReasonBadHEP                      // starts as HEP but does not decode
	ReasonHEPNotSIP                   // HEP carrying another protocol (RTCP, logs)
	ReasonTCPDuplicate                // TCP data seen before (retransmission)
	ReasonTCPGap                      // data missing from a TCP stream: the message around it is lost
	ReasonTCPUnfinished               // a TCP stream ended in the middle of a message
	numReasons
)

var reasonNames = [numReasons]string{
	"link_type", "not_ip", "not_udp_tcp", "truncated", "malformed", "fragment", "no_payload",
	"keepalive", "not_sip", "bad_hep", "hep_not_sip", "tcp_duplicate", "tcp_gap", "tcp_unfinished",
}

func (r Reason) String() string { return reasonNames[r] }

// Reasons lists every Reason in order, for printing counters.
func Reasons() []Reason {
	rs := make([]Reason, numReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// Stats counts what a Reader saw.
type Stats struct {
	Records  uint64 // capture records (frames) read
	Bytes    int64  // bytes of the file read so far (before gunzip: of the file as stored)
	Messages uint64 // SIP messages handed to the caller
	FromHEP  uint64 // of those, carried in HEP
	Invalid  uint64 // of those, not valid SIP (kind invalid, stored with the reason)
	Skipped  [numReasons]uint64
	// First and Last are the times of the first and last record.
	First, Last time.Time
}

// SkippedTotal is the sum of Skipped over all reasons.
func (s *Stats) SkippedTotal() uint64 {
	var n uint64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// Add adds o's counters to s (for a summary over several files).
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Bytes += o.Bytes
	s.Messages += o.Messages
	s.FromHEP += o.FromHEP
	s.Invalid += o.Invalid
	for i := range s.Skipped {
		s.Skipped[i] += o.Skipped[i]
	}
	if s.First.IsZero() || (!o.First.IsZero() && o.First.Before(s.First)) {
		s.First = o.First
	}
	if o.Last.After(s.Last) {
		s.Last = o.Last
	}
}
