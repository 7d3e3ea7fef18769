package seed

import (
	"net/netip"
	"strconv"
	"time"
)

// The proxy whose siptrace mirrors everything, and the carrier gateway calls
// go out to.
var (
	proxy   = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 10}), 5060)
	gateway = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, 20}), 5060)
)

const domain = "sip.example.net"

var userAgents = []string{
	"Yealink SIP-T46S 66.86.0.15",
	"Linphone/5.2.0 (belle-sip/5.2.0)",
	"Grandstream GXP2170 1.0.11.23",
	"Zoiper rv2.10.19.6",
	"Cisco-CP8845/14.1.1",
	"MicroSIP/3.21.3",
}

// dialog renders the messages of one SIP dialog (or transaction) between a
// phone, the proxy and the gateway, with times relative to its start.
type dialog struct {
	g              *Generator
	at             time.Time
	phone          netip.AddrPort
	tcp            bool
	caller, callee string
	callID         string
	fromTag, toTag string
	ua             string
	cseq           int
}

func (g *Generator) newDialog(at time.Time) *dialog {
	r := g.rng
	phone := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(1 + r.IntN(254))}),
		uint16(5060+r.IntN(3)*2))
	d := &dialog{
		g: g, at: at, phone: phone, tcp: r.IntN(10) == 0,
		caller: "+4930" + digits(r, 7), callee: "0" + digits(r, 9+r.IntN(3)),
		fromTag: hex(r, 8+r.IntN(8)), toTag: hex(r, 10),
		ua: userAgents[r.IntN(len(userAgents))], cseq: 1 + r.IntN(200),
	}
	switch r.IntN(3) {
	case 0:
		d.callID = hex(r, 32) + "@" + phone.Addr().String()
	case 1:
		d.callID = uuid(r)
	default:
		d.callID = hex(r, 12) + "-" + hex(r, 4) + "-" + hex(r, 8)
	}
	return d
}

func digits(r interface{ IntN(int) int }, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func hex(r interface{ IntN(int) int }, n int) string {
	const hx = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hx[r.IntN(16)]
	}
	return string(b)
}

func uuid(r interface{ IntN(int) int }) string {
	return hex(r, 8) + "-" + hex(r, 4) + "-4" + hex(r, 3) + "-a" + hex(r, 3) + "-" + hex(r, 12)
}

// leg says which side of the proxy a message crosses.
type leg struct{ src, dst netip.AddrPort }

func (d *dialog) in() leg   { return leg{d.phone, proxy} }
func (d *dialog) out() leg  { return leg{proxy, gateway} }
func (d *dialog) back() leg { return leg{gateway, proxy} }
func (d *dialog) home() leg { return leg{proxy, d.phone} }

// emit queues one message ms after the dialog's start (plus jitter).
func (d *dialog) emit(ms float64, l leg, raw []byte) {
	at := d.at.Add(time.Duration(ms*float64(time.Millisecond)) + time.Duration(d.g.rng.IntN(400))*time.Microsecond)
	d.g.push(&message{at: at, src: l.src, dst: l.dst, tcp: d.tcp && (l.src == d.phone || l.dst == d.phone), raw: raw})
}

// txn is what the messages of one transaction share.
type txn struct {
	method      string
	cseq        int
	phoneBranch string // the phone's Via branch
	proxyBranch string // the proxy's, on the forwarded copy
}

func (d *dialog) newTxn(method string) txn {
	r := d.g.rng
	return txn{method: method, cseq: d.cseq,
		phoneBranch: "z9hG4bK" + hex(r, 8+r.IntN(8)),
		proxyBranch: "z9hG4bK" + hex(r, 4) + "." + hex(r, 32) + ".0"}
}

func (d *dialog) transport() string {
	if d.tcp {
		return "TCP"
	}
	return "UDP"
}

// request renders a request; forwarded adds the proxy's Via and
// Record-Route as on the leg to the gateway.
func (d *dialog) request(t txn, ruri string, forwarded, withToTag bool, sdp bool, extra string) []byte {
	b := make([]byte, 0, 1024)
	b = append(b, t.method+" "+ruri+" SIP/2.0\r\n"...)
	if forwarded {
		b = append(b, "Record-Route: <sip:"+proxy.Addr().String()+";lr;ftag="+d.fromTag+">\r\n"...)
		b = append(b, "Via: SIP/2.0/UDP "+proxy.String()+";branch="+t.proxyBranch+"\r\n"...)
	}
	b = d.phoneVia(b, t, forwarded)
	if !forwarded {
		b = append(b, "Max-Forwards: 70\r\n"...)
	} else {
		b = append(b, "Max-Forwards: 69\r\n"...)
	}
	b = d.fromTo(b, withToTag)
	b = append(b, "CSeq: "+strconv.Itoa(t.cseq)+" "+t.method+"\r\n"...)
	if t.method == "INVITE" || t.method == "REGISTER" {
		b = append(b, "Contact: <sip:"+d.caller+"@"+d.phone.String()+";transport="+lower(d.transport())+">\r\n"...)
	}
	b = append(b, extra...)
	if t.method != "ACK" && t.method != "CANCEL" {
		b = append(b, "User-Agent: "+d.ua+"\r\n"...)
	}
	return d.body(b, sdp, d.phone.Addr())
}

// response renders a response to t; forwarded is the copy the proxy sends
// back to the phone (its own Via removed), !forwarded the one from the
// gateway (both Vias) unless local, a reply the proxy makes itself.
func (d *dialog) response(t txn, code int, reason string, fromGateway, withToTag, sdp bool) []byte {
	b := make([]byte, 0, 1024)
	b = append(b, "SIP/2.0 "+strconv.Itoa(code)+" "+reason+"\r\n"...)
	if fromGateway {
		b = append(b, "Via: SIP/2.0/UDP "+proxy.String()+";branch="+t.proxyBranch+"\r\n"...)
	}
	if t.method == "INVITE" && code > 100 && code < 300 {
		b = append(b, "Record-Route: <sip:"+proxy.Addr().String()+";lr;ftag="+d.fromTag+">\r\n"...)
	}
	b = d.phoneVia(b, t, true)
	b = d.fromTo(b, withToTag)
	b = append(b, "CSeq: "+strconv.Itoa(t.cseq)+" "+t.method+"\r\n"...)
	if t.method == "INVITE" && code > 100 && code < 300 {
		b = append(b, "Contact: <sip:"+d.callee+"@"+gateway.String()+">\r\n"...)
	}
	if code == 100 || !fromGateway {
		b = append(b, "Server: kamailio (5.6.3 (x86_64/linux))\r\n"...)
	} else {
		b = append(b, "Server: Carrier-SBC 4.2\r\n"...)
	}
	return d.body(b, sdp, gateway.Addr())
}

func (d *dialog) phoneVia(b []byte, t txn, received bool) []byte {
	b = append(b, "Via: SIP/2.0/"+d.transport()+" "+d.phone.String()+";"...)
	if received {
		b = append(b, "rport="+strconv.Itoa(int(d.phone.Port()))+";"...)
	} else {
		b = append(b, "rport;"...)
	}
	return append(b, "branch="+t.phoneBranch+"\r\n"...)
}

func (d *dialog) fromTo(b []byte, withToTag bool) []byte {
	b = append(b, "From: <sip:"+d.caller+"@"+domain+">;tag="+d.fromTag+"\r\n"...)
	b = append(b, "To: <sip:"+d.callee+"@"+domain+">"...)
	if withToTag {
		b = append(b, ";tag="+d.toTag...)
	}
	b = append(b, "\r\nCall-ID: "+d.callID+"\r\n"...)
	return b
}

func (d *dialog) body(b []byte, sdp bool, media netip.Addr) []byte {
	if !sdp {
		return append(b, "Content-Length: 0\r\n\r\n"...)
	}
	ip := media.String()
	s := "v=0\r\no=- " + digits(d.g.rng, 10) + " 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(10000+2*d.g.rng.IntN(10000)) + " RTP/AVP 8 101\r\n" +
		"a=sendrecv\r\n"
	b = append(b, "Content-Type: application/sdp\r\nContent-Length: "+strconv.Itoa(len(s))+"\r\n\r\n"...)
	return append(b, s...)
}

func lower(s string) string {
	if s == "UDP" {
		return "udp"
	}
	return "tcp"
}

func (d *dialog) ruri() string { return "sip:" + d.callee + "@" + domain }

// invite sends the INVITE both ways with the proxy's 100 Trying to the phone
// and the gateway's to the proxy.
func (d *dialog) invite() txn {
	t := d.newTxn("INVITE")
	ruri := d.ruri()
	d.emit(0, d.in(), d.request(t, ruri, false, false, true, ""))
	d.emit(0.3, d.home(), d.response(t, 100, "Trying", false, false, false))
	d.emit(0.6, d.out(), d.request(t, "sip:"+d.callee+"@"+gateway.String(), true, false, true, ""))
	d.emit(25, d.back(), d.response(t, 100, "Trying", true, false, false))
	return t
}

// reply sends a final or provisional response from the gateway and its
// forwarded copy to the phone.
func (d *dialog) reply(ms float64, t txn, code int, reason string, sdp bool) {
	d.emit(ms, d.back(), d.response(t, code, reason, true, true, sdp))
	d.emit(ms+0.4, d.home(), d.response(t, code, reason, false, true, sdp))
}

// inDialog sends a request of the dialog from the phone and its forwarded
// copy, with the 200 both ways when answered.
func (d *dialog) inDialog(ms float64, method string, answered bool) {
	d.cseq++
	t := d.newTxn(method)
	ruri := "sip:" + d.callee + "@" + gateway.String()
	route := "Route: <sip:" + proxy.Addr().String() + ";lr;ftag=" + d.fromTag + ">\r\n"
	d.emit(ms, d.in(), d.request(t, ruri, false, true, false, route))
	d.emit(ms+0.5, d.out(), d.request(t, ruri, true, true, false, ""))
	if answered {
		d.reply(ms+30, t, 200, "OK", false)
	}
}

func (d *dialog) answered() {
	t := d.invite()
	ring := 200 + d.g.rng.Float64()*3000
	d.reply(ring, t, 180, "Ringing", false)
	answer := ring + 1000 + d.g.rng.Float64()*15000
	d.reply(answer, t, 200, "OK", true)
	d.inDialog(answer+40, "ACK", false)
	d.inDialog(answer+10000+d.g.rng.Float64()*170000, "BYE", true)
}

// rejected: the gateway refuses; the proxy acknowledges hop by hop and the
// phone acknowledges the forwarded response.
func (d *dialog) rejected(code int, reason string) {
	t := d.invite()
	ms := 300 + d.g.rng.Float64()*2000
	d.reply(ms, t, code, reason, false)
	ack := t
	ack.method = "ACK"
	d.emit(ms+0.3, d.out(), d.request(ack, "sip:"+d.callee+"@"+gateway.String(), true, true, false, ""))
	d.emit(ms+40, d.in(), d.request(ack, d.ruri(), false, true, false, ""))
}

// notFound: the proxy itself answers 404 for an unknown number.
func (d *dialog) notFound() {
	t := d.newTxn("INVITE")
	d.emit(0, d.in(), d.request(t, d.ruri(), false, false, true, ""))
	d.emit(0.3, d.home(), d.response(t, 100, "Trying", false, false, false))
	d.emit(2, d.home(), d.response(t, 404, "Not Found", false, true, false))
	ack := t
	ack.method = "ACK"
	d.emit(40, d.in(), d.request(ack, d.ruri(), false, true, false, ""))
}

func (d *dialog) cancelled() {
	t := d.invite()
	ring := 200 + d.g.rng.Float64()*2000
	d.reply(ring, t, 180, "Ringing", false)
	hang := ring + 2000 + d.g.rng.Float64()*20000
	c := t
	c.method = "CANCEL"
	d.emit(hang, d.in(), d.request(c, d.ruri(), false, false, false, ""))
	d.emit(hang+0.3, d.home(), d.response(c, 200, "canceling", false, false, false))
	d.emit(hang+0.5, d.out(), d.request(c, "sip:"+d.callee+"@"+gateway.String(), true, false, false, ""))
	d.emit(hang+25, d.back(), d.response(c, 200, "OK", true, false, false))
	d.reply(hang+30, t, 487, "Request Terminated", false)
}

func (d *dialog) register() {
	d.callee = d.caller
	t := d.newTxn("REGISTER")
	ruri := "sip:" + domain
	exp := "Expires: 3600\r\n"
	d.emit(0, d.in(), d.request(t, ruri, false, false, false, exp))
	nonce := hex(d.g.rng, 40)
	chal := d.response(t, 401, "Unauthorized", false, true, false)
	chal = insertBefore(chal, "Content-Length", "WWW-Authenticate: Digest realm=\""+domain+"\", nonce=\""+nonce+"\", qop=\"auth\"\r\n")
	d.emit(1, d.home(), chal)
	d.cseq++
	t2 := d.newTxn("REGISTER")
	auth := exp + "Authorization: Digest username=\"" + d.caller + "\", realm=\"" + domain + "\", nonce=\"" + nonce +
		"\", uri=\"" + ruri + "\", response=\"" + hex(d.g.rng, 32) + "\", algorithm=MD5, cnonce=\"" + hex(d.g.rng, 8) +
		"\", qop=auth, nc=00000001\r\n"
	d.emit(60, d.in(), d.request(t2, ruri, false, false, false, auth))
	d.emit(62, d.home(), d.response(t2, 200, "OK", false, true, false))
}

func (d *dialog) options() {
	t := d.newTxn("OPTIONS")
	d.emit(0, d.in(), d.request(t, "sip:"+proxy.String(), false, false, false, "Accept: application/sdp\r\n"))
	d.emit(0.4, d.home(), d.response(t, 200, "Keepalive", false, true, false))
}

// insertBefore puts line before the header named name.
func insertBefore(b []byte, name, line string) []byte {
	for i := 0; i+len(name) <= len(b); i++ {
		if (i == 0 || b[i-1] == '\n') && string(b[i:i+len(name)]) == name {
			out := make([]byte, 0, len(b)+len(line))
			out = append(out, b[:i]...)
			out = append(out, line...)
			return append(out, b[i:]...)
		}
	}
	return b
}
