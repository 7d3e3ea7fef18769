package store_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// modelAgent is a capture agent whose clock is off by skew: its packets
// arrive in order but carry capture times out of order with other agents'.
type modelAgent struct {
	id   uint32
	skew time.Duration
}

var modelAgents = []modelAgent{{1, 0}, {2, 350 * time.Millisecond}, {3, -800 * time.Millisecond},
	{4, 2300 * time.Millisecond}, {5, -1700 * time.Millisecond}, {6, -40 * time.Second}, {hepv1Agent, 0}}

// hepv1Agent sends HEPv1, which has no capture time.
const hepv1Agent = 7

var modelAddrs = []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
	netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")}

var modelRequests = []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"}

var modelResponses = []struct {
	code   int
	reason string
}{{100, "Trying"}, {180, "Ringing"}, {200, "OK"}, {404, "Not Found"}, {486, "Busy Here"}, {503, "Service Unavailable"}}

// modelCalls are Call-IDs that recur over the whole capture; one carries a
// byte that is not UTF-8, which the store returns as U+FFFD.
var modelCalls = []string{"a84b4c76e66710@pc33.example.com", "call-2", "call-3", "3848276298220188511@atlanta.example.com",
	"call-5", "call-6", "call-7", "bad-\xff-call", "call-9", "call-10"}

// modelPeople are the parties of the dialogs, each with the ways its URI is
// written: a name (case matters: Bob is not bob), or a telephone number in
// a sip: URI (escaped where a character needs it, as phones send
// "+49 30 7741528") or a tel: URI, with and without '+' and separators.
var modelPeople = [][]string{
	{"sip:alice@example.com"},
	{"sip:bob@example.com"},
	{"sip:Bob@example.com"},
	{"sip:carol.smith@example.com"},
	{"sip:+49%2030%207741528@example.com", "sip:+49-30-7741528@example.com;user=phone", "sip:49307741528@10.0.0.2",
		"tel:+49-30-7741528", "sip:+49(30)7741528@example.com"},
	{"sip:+1-555-0100@example.com", "sip:15550100@example.com", "tel:+1.555.0100", "sip:%2B15550100@example.com"},
	{"sip:*97@example.com"},
	{"sip:1001@10.0.0.1"},
}

// modelDialog is who a Call-ID's messages are between.
type modelDialog struct{ from, to, pai int } // indexes of modelPeople; pai -1: none

// genModelPackets makes n packets as the collector builds them, in arrival
// order (ids increasing, except a few that reuse an id at another time, as
// imported packets may), over a few minutes around start: bursts dense
// enough to fill blocks, quiet stretches, some packets sharing a capture time.
func genModelPackets(r *rand.Rand, start time.Time, n int) []hepvault.Packet {
	pkts := make([]hepvault.Packet, 0, n)
	now := start // true time
	var m sip.Message
	seen := map[modelKey]bool{} // a key is one packet: never two contents for one key
	dialogs := map[string]modelDialog{}
	burst := false
	for i := range n {
		if r.IntN(100) == 0 {
			burst = !burst
		}
		gap := 250 * time.Millisecond
		if burst {
			gap = time.Millisecond
		}
		now = now.Add(time.Duration(r.ExpFloat64() * float64(gap)))
		a := modelAgents[r.IntN(len(modelAgents))]
		at := now.Add(a.skew + time.Duration(r.IntN(500))*time.Microsecond).Truncate(time.Microsecond)
		if i > 0 && r.IntN(8) == 0 {
			at = pkts[r.IntN(min(i, 5))+i-min(i, 5)].CapturedAt // shares a capture time
		}
		id := int64(1_000_000 + i)
		if i > 10 && r.IntN(100) == 0 {
			id = pkts[r.IntN(i)].ID // the same id at another time
		}
		proto := uint8(17)
		if r.IntN(5) == 0 {
			proto = 6
		}
		hp := hep.Packet{Version: 3, Proto: proto, ProtoType: 1,
			SrcIP: modelAddrs[r.IntN(len(modelAddrs))], DstIP: modelAddrs[r.IntN(len(modelAddrs))],
			SrcPort: uint16(5060 + r.IntN(4)), DstPort: uint16(5060 + r.IntN(4)),
			TsSec: uint32(at.Unix()), TsUsec: uint32(at.Nanosecond() / 1000), CaptureID: a.id,
			Payload: []byte(genSIP(r, i, dialogs))}
		switch r.IntN(10) {
		case 0:
			hp.CorrelationID = fmt.Appendf(nil, "corr-%d", r.IntN(50))
		case 1:
			hp.CorrelationID = []byte("corr\x00nul")
		}
		recv := now.Add(time.Duration(1+r.IntN(5000)) * time.Microsecond)
		if a.id == hepv1Agent {
			// HEPv1 carries no time: the collector captures at receipt,
			// to the nanosecond; the store keeps the microsecond.
			hp.Version, hp.TsSec, hp.TsUsec = 1, 0, 0
			recv = recv.Add(time.Duration(r.IntN(1000)))
		}
		p := collector.Build(&hp, &m, sip.Parse(hp.Payload, &m), recv, id)
		if seen[keyOfPacket(&p)] {
			p.ID = int64(1_000_000 + i)
		}
		seen[keyOfPacket(&p)] = true
		if r.IntN(40) == 0 {
			// Set by hand, not as Raw says (an agent's or an import's
			// own idea): the store keeps the fields as written.
			p.UserAgent, p.FromUser = fmt.Sprintf("override-%d", i), "+49 30 7741528"
		}
		pkts = append(pkts, p)
	}
	return pkts
}

// genSIP returns a SIP message, or now and then something that is not one.
func genSIP(r *rand.Rand, i int, dialogs map[string]modelDialog) string {
	callID := modelCalls[r.IntN(len(modelCalls))]
	if r.IntN(3) == 0 {
		callID = fmt.Sprintf("single-%d@10.0.0.1", i)
	}
	d, ok := dialogs[callID]
	if !ok {
		d = modelDialog{from: r.IntN(len(modelPeople)), to: r.IntN(len(modelPeople)), pai: -1}
		if r.IntN(3) == 0 {
			d.pai = r.IntN(len(modelPeople))
		}
		dialogs[callID] = d
	}
	// Each message writes the parties' URIs its own way, as proxies rewrite them.
	uri := func(person int) string { w := modelPeople[person]; return w[r.IntN(len(w))] }
	ua := "Yealink SIP-T46S 66.86.0.15"
	if r.IntN(15) == 0 {
		ua = "broken \xfe\xff phone"
	}
	var b strings.Builder
	switch k := r.IntN(20); {
	case k == 0:
		return fmt.Sprintf("\x00\x01garbage %d \xff", i)
	case k < 11:
		method := modelRequests[r.IntN(len(modelRequests))]
		ruri := uri(d.to)
		if r.IntN(4) == 0 {
			ruri = "sip:" + []string{"+4930 7741528", "service", "alice"}[r.IntN(3)] + "@10.0.0.2"
			ruri = strings.ReplaceAll(ruri, " ", "%20")
		}
		fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
		genHeaders(&b, r, d, uri, callID, method, "", ua, "User-Agent")
		if d.pai >= 0 {
			fmt.Fprintf(&b, "P-Asserted-Identity: \"Someone\" <%s>\r\n", uri(d.pai))
		}
		if method == "INVITE" && r.IntN(2) == 0 {
			sdp := "v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n"
			fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(sdp), sdp)
			return b.String()
		}
	default:
		resp := modelResponses[r.IntN(len(modelResponses))]
		fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", resp.code, resp.reason)
		genHeaders(&b, r, d, uri, callID, modelRequests[r.IntN(3)], fmt.Sprintf(";tag=%x", r.Uint32()), ua, "Server")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

func genHeaders(b *strings.Builder, r *rand.Rand, d modelDialog, uri func(int) string, callID, cseqMethod, toTag, ua, uaHeader string) {
	fmt.Fprintf(b, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%x\r\n", r.Uint32())
	fmt.Fprintf(b, "From: <%s>;tag=%x\r\n", uri(d.from), r.Uint32()%1000)
	fmt.Fprintf(b, "To: <%s>%s\r\n", uri(d.to), toTag)
	fmt.Fprintf(b, "Call-ID: %s\r\nCSeq: %d %s\r\n", callID, 1+r.IntN(300), cseqMethod)
	fmt.Fprintf(b, "%s: %s\r\nContact: <sip:alice@10.0.0.1:5060>\r\n", uaHeader, ua)
}

// modelFilterUsers are users a filter names, as people type them: every
// writing of the numbers above, names in another case, and users no packet
// has.
var modelFilterUsers = []string{
	"alice", "Alice", "bob", "Bob", "BOB", "carol.smith", "*97", "1001",
	"+49 30 7741528", "+49-30-7741528", "49307741528", "+49(30)7741528", "0049307741528", "+4930 7741528",
	"+1 555 0100", "15550100", "+1.555.0100", "service",
	"mallory", "+49 30 0000000", "%2B15550100",
}

// modelTexts are substrings a text filter looks for, most of them in some
// payloads.
var modelTexts = []string{"Yealink", "m=audio", "Busy Here", "INVITE sip:", "tel:+1.555.0100", "\xfe\xff", "garbage",
	"override", "P-Asserted-Identity", "no such text"}
