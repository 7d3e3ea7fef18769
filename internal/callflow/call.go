package callflow

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
)

// State is the outcome of a call.
type State string

// The states Summarize gives; see Summarize for the rules.
const (
	StateAnswered   State = "answered"    // INVITE: a 2xx to the initial INVITE, whether or not a BYE ended it since
	StateCancelled  State = "cancelled"   // INVITE: 487, or CANCELled and not answered
	StateBusy       State = "busy"        // INVITE: 486 Busy Here or 600 Busy Everywhere
	StateNoAnswer   State = "no_answer"   // INVITE: 408 Request Timeout or 480 Temporarily Unavailable
	StateFailed     State = "failed"      // any other final response >= 300
	StateInProgress State = "in_progress" // no final response (yet, or not captured)
	StateRegistered State = "registered"  // REGISTER: 2xx
	StateCompleted  State = "completed"   // a non-INVITE, non-REGISTER request (OPTIONS, MESSAGE, ...): 2xx
)

// TimeFormat is how a Call's times are written in JSON: RFC 3339, UTC,
// microseconds, as the API writes packet times.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Call is the summary of the packets of one Call-ID. A zero time is
// unknown (null in JSON); so are PDD and Duration when their Has flag is
// false.
type Call struct {
	CallID string
	// Legs are the Call-IDs correlated with this one (the other legs of the
	// same call through a B2BUA); Summarize leaves it empty.
	Legs   []string
	Method string // of the first request

	StartedAt  time.Time // the first request
	RingingAt  time.Time // the first 180 or 183 to the deciding transaction
	AnsweredAt time.Time // its first 2xx
	EndedAt    time.Time // answered: the first BYE; otherwise the final response (the CANCEL when none)

	State       State
	FinalStatus int // 0: none
	FinalReason string

	// From the first request.
	FromUser  string
	ToUser    string
	RURIUser  string
	SrcIP     string
	DstIP     string
	UserAgent string

	PDD         time.Duration // the deciding INVITE to its first 180/183
	HasPDD      bool
	Duration    time.Duration // the first 2xx to the first BYE
	HasDuration bool

	Packets int // every packet of the Call-ID, retransmissions included
}

// callJSON is Call as the CLI and the API show it: times RFC 3339 with
// microseconds, unknowns null, durations as numbers.
type callJSON struct {
	CallID      string   `json:"call_id"`
	Legs        []string `json:"legs"`
	Method      *string  `json:"method"`
	StartedAt   *string  `json:"started_at"`
	RingingAt   *string  `json:"ringing_at"`
	AnsweredAt  *string  `json:"answered_at"`
	EndedAt     *string  `json:"ended_at"`
	State       State    `json:"state"`
	FinalStatus *int     `json:"final_status"`
	FinalReason *string  `json:"final_reason"`
	FromUser    *string  `json:"from_user"`
	ToUser      *string  `json:"to_user"`
	RURIUser    *string  `json:"ruri_user"`
	SrcIP       *string  `json:"src_ip"`
	DstIP       *string  `json:"dst_ip"`
	UserAgent   *string  `json:"user_agent"`
	PDDMs       *float64 `json:"pdd_ms"`
	DurationS   *float64 `json:"duration_s"`
	Packets     int      `json:"packets"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(TimeFormat)
	return &s
}

// MarshalJSON writes the call with the keys named in the API: call_id,
// legs, method, started_at, ..., pdd_ms, duration_s, packets.
func (c Call) MarshalJSON() ([]byte, error) {
	j := callJSON{
		CallID: c.CallID, Legs: c.Legs, Method: optString(c.Method),
		StartedAt: optTime(c.StartedAt), RingingAt: optTime(c.RingingAt),
		AnsweredAt: optTime(c.AnsweredAt), EndedAt: optTime(c.EndedAt),
		State: c.State, FinalReason: optString(c.FinalReason),
		FromUser: optString(c.FromUser), ToUser: optString(c.ToUser), RURIUser: optString(c.RURIUser),
		SrcIP: optString(c.SrcIP), DstIP: optString(c.DstIP), UserAgent: optString(c.UserAgent),
		Packets: c.Packets,
	}
	if j.Legs == nil {
		j.Legs = []string{}
	}
	if c.FinalStatus != 0 {
		n := c.FinalStatus
		j.FinalStatus = &n
	}
	if c.HasPDD {
		ms := float64(c.PDD.Microseconds()) / 1e3
		j.PDDMs = &ms
	}
	if c.HasDuration {
		s := float64(c.Duration.Microseconds()) / 1e6
		j.DurationS = &s
	}
	return json.Marshal(j)
}

// Sort orders packets as a call is read: by capture time, then by id (the
// order of arrival among packets stamped alike). It sorts pkts in place.
func Sort(pkts []hepvault.Packet) {
	slices.SortStableFunc(pkts, func(a, b hepvault.Packet) int {
		if c := a.CapturedAt.Compare(b.CapturedAt); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// Summarize reads the packets of one Call-ID, in any order, into a Call.
// It does not change pkts.
//
// The rules, in order:
//
//   - Packets are read in capture-time order, then id: a call that spans
//     midnight, or whose packets were stored out of order, is one call.
//   - A retransmission is a packet whose addresses, ports and bytes are
//     those of an earlier packet: it counts in Packets (it was on the wire,
//     and the ladder draws it) but nowhere else, so a retransmitted final
//     response or BYE moves no time.
//   - The call's Method is the method of its first request, and From, To,
//     Request-URI user, source and destination address and User-Agent are
//     that request's. StartedAt is its time (the first packet's when no
//     request was captured).
//   - The deciding transaction is the last one the caller started for that
//     method outside a dialog: the request of Method with no To tag and the
//     highest CSeq (RFC 3261 §12.1.1: a request that starts a dialog has no
//     To tag; a request re-sent with credentials after a 401/407 has a
//     higher CSeq, §22.2). A challenge answered so is not the outcome, nor is
//     a re-INVITE inside the dialog. When no such request was captured, the
//     highest CSeq among the responses to Method decides.
//   - Its final response is its first 2xx (a 2xx ends the attempt, and a
//     proxy forwards it at once, §16.7), else its last final response (a
//     proxy forwards the best of its branches last, §16.7 step 6).
//   - INVITE: 2xx is answered; 487 is cancelled, and so is any other non-2xx
//     or no final at all when a CANCEL of that transaction was captured;
//     486 and 600 are busy; 408 and 480 no_answer; any other >= 300 failed;
//     no final in_progress. answered stays answered when a BYE ends it.
//   - REGISTER: 2xx registered, >= 300 failed, none in_progress. Any other
//     method: 2xx completed, >= 300 failed, none in_progress.
//   - RingingAt is the first 180 or 183 to the deciding INVITE; PDD runs from
//     the first copy of that INVITE to it. AnsweredAt is the first 2xx. For
//     an answered call EndedAt is the first BYE after the answer and
//     Duration runs from AnsweredAt to it; otherwise EndedAt is the time of
//     the final response (of the CANCEL when no final was captured).
func Summarize(pkts []hepvault.Packet) Call {
	ps := slices.Clone(pkts)
	Sort(ps)
	c := Call{Packets: len(ps), State: StateInProgress}
	ps = dropRetransmissions(ps)
	if len(ps) == 0 {
		return c
	}
	c.CallID = ps[0].CallID
	c.StartedAt = ps[0].CapturedAt.UTC()
	var first *hepvault.Packet
	for i := range ps {
		if ps[i].Kind == hepvault.KindRequest {
			first = &ps[i]
			break
		}
	}
	if first != nil {
		c.Method = first.Method
		c.StartedAt = first.CapturedAt.UTC()
		c.FromUser, c.ToUser, c.RURIUser = first.FromUser, first.ToUser, first.RURIUser
		c.SrcIP, c.DstIP, c.UserAgent = addrString(first.SrcIP), addrString(first.DstIP), first.UserAgent
	} else {
		// Only responses were captured: their CSeq says what was asked.
		for i := range ps {
			if ps[i].Kind == hepvault.KindResponse && ps[i].CSeqMethod != "" {
				c.Method = ps[i].CSeqMethod
				break
			}
		}
	}
	if c.Method == "" {
		return c
	}
	cseq, ok := decidingCSeq(ps, c.Method)
	if !ok {
		return c
	}
	var request, final, ringing, cancel *hepvault.Packet
	for i := range ps {
		p := &ps[i]
		switch {
		case p.Kind == hepvault.KindRequest && p.Method == c.Method && p.CSeq == cseq && p.ToTag == "":
			if request == nil {
				request = p
			}
		case p.Kind == hepvault.KindRequest && p.Method == "CANCEL" && p.CSeq == cseq:
			if cancel == nil {
				cancel = p
			}
		case p.Kind == hepvault.KindResponse && p.CSeqMethod == c.Method && p.CSeq == cseq:
			switch {
			case p.StatusCode == 180 || p.StatusCode == 183:
				if ringing == nil {
					ringing = p
				}
			case p.StatusCode >= 200 && p.StatusCode < 300:
				if final == nil || final.StatusCode >= 300 {
					final = p
				}
			case p.StatusCode >= 300:
				if final == nil || final.StatusCode >= 300 {
					final = p // the last non-2xx, until a 2xx comes
				}
			}
		}
	}
	if final != nil {
		c.FinalStatus, c.FinalReason = final.StatusCode, final.Reason
	}
	if c.Method != "INVITE" {
		switch {
		case final == nil:
		case final.StatusCode < 300 && c.Method == "REGISTER":
			c.State = StateRegistered
		case final.StatusCode < 300:
			c.State = StateCompleted
		default:
			c.State = StateFailed
		}
		if final != nil {
			c.EndedAt = final.CapturedAt.UTC()
		}
		return c
	}
	if ringing != nil {
		c.RingingAt = ringing.CapturedAt.UTC()
		if request != nil {
			c.PDD, c.HasPDD = ringing.CapturedAt.Sub(request.CapturedAt), true
		}
	}
	switch {
	case final != nil && final.StatusCode < 300:
		c.State = StateAnswered
		c.AnsweredAt = final.CapturedAt.UTC()
		for i := range ps {
			p := &ps[i]
			if p.Kind == hepvault.KindRequest && p.Method == "BYE" && !p.CapturedAt.Before(final.CapturedAt) {
				c.EndedAt = p.CapturedAt.UTC()
				c.Duration, c.HasDuration = p.CapturedAt.Sub(final.CapturedAt), true
				break
			}
		}
		return c
	case final == nil && cancel == nil:
		return c
	case final == nil:
		c.State, c.EndedAt = StateCancelled, cancel.CapturedAt.UTC()
		return c
	}
	c.EndedAt = final.CapturedAt.UTC()
	switch {
	case final.StatusCode == 487 || cancel != nil:
		c.State = StateCancelled
	case final.StatusCode == 486 || final.StatusCode == 600:
		c.State = StateBusy
	case final.StatusCode == 408 || final.StatusCode == 480:
		c.State = StateNoAnswer
	default:
		c.State = StateFailed
	}
	return c
}

// decidingCSeq returns the CSeq of the last transaction of method started
// outside a dialog, or of the responses to method when no such request was
// captured.
func decidingCSeq(ps []hepvault.Packet, method string) (uint32, bool) {
	var n uint32
	found := false
	for i := range ps {
		p := &ps[i]
		if p.Kind == hepvault.KindRequest && p.Method == method && p.ToTag == "" && (!found || p.CSeq > n) {
			n, found = p.CSeq, true
		}
	}
	if found {
		return n, true
	}
	for i := range ps {
		p := &ps[i]
		if p.Kind == hepvault.KindResponse && p.CSeqMethod == method && (!found || p.CSeq > n) {
			n, found = p.CSeq, true
		}
	}
	return n, found
}

// dropRetransmissions returns ps (sorted) without the packets that repeat
// an earlier one: same addresses, ports and bytes.
func dropRetransmissions(ps []hepvault.Packet) []hepvault.Packet {
	type key struct {
		src, dst     string
		sport, dport uint16
		raw          string
	}
	seen := make(map[key]bool, len(ps))
	out := ps[:0]
	for _, p := range ps {
		k := key{p.SrcIP.String(), p.DstIP.String(), p.SrcPort, p.DstPort, string(p.Raw)}
		if len(p.Raw) > 0 && seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// HasSDP says whether the message carries an SDP body: its Content-Type is
// application/sdp, or a multipart body has an application/sdp part.
func HasSDP(p *hepvault.Packet) bool {
	ct := strings.ToLower(p.ContentType)
	if strings.HasPrefix(ct, "application/sdp") {
		return true
	}
	if !strings.HasPrefix(ct, "multipart/") {
		return false
	}
	_, body, ok := bytes.Cut(p.Raw, []byte("\r\n\r\n"))
	return ok && bytes.Contains(bytes.ToLower(body), []byte("application/sdp"))
}
