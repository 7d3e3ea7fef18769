package loadgen

import (
	"strconv"

	"github.com/hepvault/hepvault"
)

// Scenario is one kind of SIP exchange the generator plays.
type Scenario uint8

// The scenarios and the messages each one traces.
const (
	ScenarioCall     Scenario = iota // INVITE 100 180 200 ACK BYE 200
	ScenarioRegister                 // REGISTER 200
	ScenarioOptions                  // OPTIONS 200 (keepalive)
	ScenarioBusy                     // INVITE 100 486 ACK
	ScenarioNotFound                 // INVITE 404 ACK
	ScenarioCancel                   // INVITE 100 180 CANCEL 200 487 ACK
	numScenarios
)

var scenarioNames = [numScenarios]string{"call", "register", "options", "busy", "notfound", "cancel"}

func (s Scenario) String() string { return scenarioNames[s] }

// Mix is the weight of each scenario, in dialogs (not messages).
type Mix [numScenarios]int

// DefaultMix is a carrier edge proxy's day: calls and keepalives dominate,
// with registrations and a share of failed and cancelled calls.
var DefaultMix = Mix{
	ScenarioCall: 30, ScenarioRegister: 25, ScenarioOptions: 25,
	ScenarioBusy: 7, ScenarioNotFound: 6, ScenarioCancel: 7,
}

// Expect is what a collector should make of one generated message.
type Expect struct {
	Kind       hepvault.Kind
	Method     string // requests
	Status     int    // responses
	CSeqMethod string
	CallID     string
}

// message is one SIP message of a dialog: its payload lies in the dialog's
// arena at [start:end); fromCaller says which way it travels.
type message struct {
	start, end int
	fromCaller bool
	want       Expect
}

// dialog holds the identifiers of one exchange while its messages are built.
type dialog struct {
	callID       string
	fromTag      string
	toTag        string
	branch       string // the caller's branch for the INVITE transaction
	proxyBranch  string // the proxy's branch, on the callee leg
	caller       string // caller's number
	callee       string
	callerIP     string
	rtpPort      string
	sessionID    string
	userAgent    string
	serverHeader string
}

const (
	domain   = "voip.example"
	proxyIP  = "10.0.0.10"
	calleeIP = "10.40.0.20"
)

// builder appends one SIP message to an arena.
type builder struct {
	b []byte
}

func (w *builder) s(parts ...string) {
	for _, p := range parts {
		w.b = append(w.b, p...)
	}
}

func (w *builder) line(parts ...string) {
	w.s(parts...)
	w.b = append(w.b, '\r', '\n')
}

// end closes the header section with Content-Length and appends body.
func (w *builder) end(contentType, body string) {
	if contentType != "" {
		w.line("Content-Type: ", contentType)
	}
	w.line("Content-Length: ", strconv.Itoa(len(body)))
	w.b = append(w.b, '\r', '\n')
	w.b = append(w.b, body...)
}

func (d *dialog) sdp(ip string) string {
	return "v=0\r\no=- " + d.sessionID + " " + d.sessionID + " IN IP4 " + ip + "\r\ns=SDP data\r\nc=IN IP4 " + ip +
		"\r\nt=0 0\r\nm=audio " + d.rtpPort + " RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
}

// request appends a request from the caller to the proxy.
func (d *dialog) request(w *builder, method, ruri, branch string, cseq int, toTag, contentType, body string) {
	w.line(method, " ", ruri, " SIP/2.0")
	w.line("Via: SIP/2.0/UDP ", d.callerIP, ":5060;rport;branch=", branch)
	w.line("Max-Forwards: 70")
	w.line("From: <sip:", d.caller, "@", domain, ">;tag=", d.fromTag)
	if toTag == "" {
		w.line("To: <", ruri, ">")
	} else {
		w.line("To: <", ruri, ">;tag=", toTag)
	}
	w.line("Call-ID: ", d.callID)
	w.line("CSeq: ", strconv.Itoa(cseq), " ", method)
	if method != "CANCEL" && method != "ACK" {
		w.line("Contact: <sip:", d.caller, "@", d.callerIP, ">")
	}
	w.line("User-Agent: ", d.userAgent)
	w.end(contentType, body)
}

// response appends a response from the proxy to the caller.
func (d *dialog) response(w *builder, code int, reason, method, ruri, branch string, cseq int, toTag, contentType, body string) {
	w.line("SIP/2.0 ", strconv.Itoa(code), " ", reason)
	if code > 100 && (method == "INVITE" || method == "BYE") {
		// Relayed from the callee: the proxy's own Via is still on top.
		w.line("Via: SIP/2.0/UDP ", proxyIP, ";branch=", d.proxyBranch)
	}
	w.line("Via: SIP/2.0/UDP ", d.callerIP, ":5060;branch=", branch)
	w.line("From: <sip:", d.caller, "@", domain, ">;tag=", d.fromTag)
	if toTag == "" {
		w.line("To: <", ruri, ">")
	} else {
		w.line("To: <", ruri, ">;tag=", toTag)
	}
	w.line("Call-ID: ", d.callID)
	w.line("CSeq: ", strconv.Itoa(cseq), " ", method)
	switch {
	case method == "REGISTER":
		w.line("Contact: <sip:", d.caller, "@", d.callerIP, ">;expires=600")
	case code >= 180 && code < 300 && method == "INVITE":
		w.line("Record-Route: <sip:", proxyIP, ";lr;ftag=", d.fromTag, ">")
		w.line("Contact: <sip:", d.callee, "@", calleeIP, ":5060>")
	}
	w.line("Server: ", d.serverHeader)
	w.end(contentType, body)
}
