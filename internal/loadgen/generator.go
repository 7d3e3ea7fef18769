package loadgen

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
)

// Config identifies one stream of generated traffic.
type Config struct {
	// RunID starts every Call-ID ("<RunID>-<Stream>-<n>@..."), so a run's
	// packets can be counted apart from every other run's.
	RunID     string
	Stream    int    // which sender of the run; part of the Call-ID
	CaptureID uint32 // HEP capture agent id (chunk 0x000c)
	Mix       Mix    // zero value: DefaultMix
	Seed      uint64 // for the scenario choice and the addresses
}

// Generator yields HEPv3 packets, one SIP message each, dialog after
// dialog. It is not safe for concurrent use: give each sender its own.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	total int // sum of the mix weights

	n       uint64 // dialogs made
	arena   builder
	msgs    []message
	next    int
	callerA netip.Addr
	proxyA  netip.Addr
	d       dialog
	hp      hep.Packet
}

// NewGenerator returns a generator for cfg.
func NewGenerator(cfg Config) *Generator {
	if cfg.Mix == (Mix{}) {
		cfg.Mix = DefaultMix
	}
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Stream)))}
	for _, w := range cfg.Mix {
		g.total += w
	}
	g.proxyA = netip.MustParseAddr(proxyIP)
	return g
}

// Dialogs is how many dialogs the generator has begun.
func (g *Generator) Dialogs() uint64 { return g.n }

// Next appends the HEPv3 encoding of the next message, captured at t, to dst,
// and says what the message is.
func (g *Generator) Next(dst []byte, t time.Time) ([]byte, Expect) {
	if g.next == len(g.msgs) {
		g.newDialog()
	}
	m := &g.msgs[g.next]
	g.next++
	g.hp = hep.Packet{
		Family: hep.FamilyIPv4, Proto: 17, ProtoType: hep.ProtoTypeSIP, CaptureID: g.cfg.CaptureID,
		TsSec: uint32(t.Unix()), TsUsec: uint32(t.Nanosecond() / 1000),
		Payload: g.arena.b[m.start:m.end],
	}
	if m.fromCaller {
		g.hp.SrcIP, g.hp.SrcPort, g.hp.DstIP, g.hp.DstPort = g.callerA, 5060, g.proxyA, 5060
	} else {
		g.hp.SrcIP, g.hp.SrcPort, g.hp.DstIP, g.hp.DstPort = g.proxyA, 5060, g.callerA, 5060
	}
	return hep.AppendV3(dst, &g.hp), m.want
}

var userAgents = [...]string{
	"Yealink SIP-T46S 66.86.0.15", "PolycomVVX-VVX_411-UA/6.4.3.5018", "Grandstream GXP2170 1.0.11.23",
	"Linphone/5.2.5 (belle-sip/5.2.4)", "FRITZ!OS", "MicroSIP/3.21.3",
}

const serverHeader = "kamailio (5.6.3 (x86_64/linux))"

func (g *Generator) pick() Scenario {
	r := g.rng.IntN(g.total)
	for s, w := range g.cfg.Mix {
		if r < w {
			return Scenario(s)
		}
		r -= w
	}
	return ScenarioCall
}

// newDialog builds every message of the next dialog into the arena.
func (g *Generator) newDialog() {
	g.n++
	n := strconv.FormatUint(g.n, 10)
	stream := strconv.Itoa(g.cfg.Stream)
	salt := strconv.FormatUint(g.rng.Uint64()&0xffffffff, 16)
	a, b := byte(1+g.rng.IntN(250)), byte(1+g.rng.IntN(250))
	g.callerA = netip.AddrFrom4([4]byte{10, 20, a, b})
	d := &g.d
	*d = dialog{
		callID:       g.cfg.RunID + "-" + stream + "-" + n + "@" + salt,
		fromTag:      salt + "f" + n,
		toTag:        "as" + salt + n,
		branch:       "z9hG4bK" + salt + "." + stream + "." + n,
		proxyBranch:  "z9hG4bK" + n + "." + salt + ".0",
		caller:       "+4930" + strconv.Itoa(1000000+g.rng.IntN(9000000)),
		callee:       "+4940" + strconv.Itoa(1000000+g.rng.IntN(9000000)),
		callerIP:     g.callerA.String(),
		rtpPort:      strconv.Itoa(10000 + 2*g.rng.IntN(10000)),
		sessionID:    strconv.Itoa(100000 + g.rng.IntN(900000)),
		userAgent:    userAgents[g.rng.IntN(len(userAgents))],
		serverHeader: serverHeader,
	}
	g.arena.b = g.arena.b[:0]
	g.msgs = g.msgs[:0]
	g.next = 0
	switch g.pick() {
	case ScenarioCall:
		g.call()
	case ScenarioRegister:
		g.register()
	case ScenarioOptions:
		g.options()
	case ScenarioBusy:
		g.failedCall(486, "Busy Here", true)
	case ScenarioNotFound:
		g.failedCall(404, "Not Found", false)
	case ScenarioCancel:
		g.cancelledCall()
	}
}

// req and resp add one message to the dialog.
func (g *Generator) req(method, ruri, branch string, cseq int, toTag, ct, body string) {
	start := len(g.arena.b)
	g.d.request(&g.arena, method, ruri, branch, cseq, toTag, ct, body)
	g.msgs = append(g.msgs, message{start: start, end: len(g.arena.b), fromCaller: true,
		want: Expect{Kind: hepvault.KindRequest, Method: method, CSeqMethod: method, CallID: g.d.callID}})
}

func (g *Generator) resp(code int, reason, method, ruri, branch string, cseq int, toTag, ct, body string) {
	start := len(g.arena.b)
	g.d.response(&g.arena, code, reason, method, ruri, branch, cseq, toTag, ct, body)
	g.msgs = append(g.msgs, message{start: start, end: len(g.arena.b), fromCaller: false,
		want: Expect{Kind: hepvault.KindResponse, Status: code, CSeqMethod: method, CallID: g.d.callID}})
}

func (g *Generator) calleeURI() string { return "sip:" + g.d.callee + "@" + domain }

func (g *Generator) call() {
	d, ruri := &g.d, g.calleeURI()
	g.req("INVITE", ruri, d.branch, 1, "", "application/sdp", d.sdp(d.callerIP))
	g.resp(100, "trying -- your call is important to us", "INVITE", ruri, d.branch, 1, "", "", "")
	g.resp(180, "Ringing", "INVITE", ruri, d.branch, 1, d.toTag, "", "")
	g.resp(200, "OK", "INVITE", ruri, d.branch, 1, d.toTag, "application/sdp", d.sdp(calleeIP))
	g.req("ACK", ruri, d.branch+".ack", 1, d.toTag, "", "")
	g.req("BYE", ruri, d.branch+".bye", 2, d.toTag, "", "")
	g.resp(200, "OK", "BYE", ruri, d.branch+".bye", 2, d.toTag, "", "")
}

func (g *Generator) register() {
	d := &g.d
	ruri := "sip:" + domain
	g.req("REGISTER", ruri, d.branch, 1, "", "", "")
	g.resp(200, "OK", "REGISTER", ruri, d.branch, 1, d.toTag, "", "")
}

func (g *Generator) options() {
	d := &g.d
	ruri := "sip:" + proxyIP + ":5060"
	g.req("OPTIONS", ruri, d.branch, 1, "", "", "")
	g.resp(200, "Keepalive", "OPTIONS", ruri, d.branch, 1, d.toTag, "", "")
}

// failedCall: the INVITE is refused with code; ringing says whether a 100
// came first (a callee that answers busy) or not (the proxy's own 404).
func (g *Generator) failedCall(code int, reason string, trying bool) {
	d, ruri := &g.d, g.calleeURI()
	g.req("INVITE", ruri, d.branch, 1, "", "application/sdp", d.sdp(d.callerIP))
	if trying {
		g.resp(100, "trying -- your call is important to us", "INVITE", ruri, d.branch, 1, "", "", "")
	}
	g.resp(code, reason, "INVITE", ruri, d.branch, 1, d.toTag, "", "")
	g.req("ACK", ruri, d.branch, 1, d.toTag, "", "")
}

func (g *Generator) cancelledCall() {
	d, ruri := &g.d, g.calleeURI()
	g.req("INVITE", ruri, d.branch, 1, "", "application/sdp", d.sdp(d.callerIP))
	g.resp(100, "trying -- your call is important to us", "INVITE", ruri, d.branch, 1, "", "", "")
	g.resp(180, "Ringing", "INVITE", ruri, d.branch, 1, d.toTag, "", "")
	g.req("CANCEL", ruri, d.branch, 1, "", "", "")
	g.resp(200, "canceling", "CANCEL", ruri, d.branch, 1, "", "", "")
	g.resp(487, "Request Terminated", "INVITE", ruri, d.branch, 1, d.toTag, "", "")
	g.req("ACK", ruri, d.branch, 1, d.toTag, "", "")
}
