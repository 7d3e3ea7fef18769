package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/certtest"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/livetest"
)

// The live test runs the trainee exercise against the real thing: Kamailio
// (testdata/kamailio/kamailio.cfg) proxies calls between sipp user agents
// and mirrors, with siptrace, every SIP message it receives or sends as
// HEPv3 to hepvault; dumpcap captures the same SIP on the wire.
//
// Which wire packets are the traced ones: siptrace in trace_mode 1 hooks
// Kamailio's network layer, so it mirrors exactly the SIP datagrams that
// enter or leave Kamailio's SIP socket: the requests and replies from and
// to the UAC, and the forwarded ones to and from the UAS, each once per
// direction (a forwarded INVITE is two messages on the wire and two HEP
// packets: UAC->proxy and proxy->UAS), plus Kamailio's own messages (100
// Trying, 200 Keepalive, 404, the hop-by-hop ACK and CANCEL it sends). The
// capture is therefore filtered to Kamailio's SIP port, without hepvault's
// ports (Kamailio sends UDP HEP from its SIP socket): those frames and the
// HEP packets correspond one to one, with the same source, destination,
// start line, CSeq and Call-ID. trace_sl_acks is off in the config, because
// otherwise the ACK of a stateless reply would be mirrored twice (once by
// the core hook, once by the sl callback) for one wire packet.
//
// Order: Kamailio runs one SIP worker (children=1), which stamps and sends
// HEP in the order messages pass its socket; the HEP time of a received
// message is a little after its wire time, of a sent one a little before.
// The first packets after the trainee's timestamp come from a strict
// request/reply exchange, so their order is the same on both sides.
func TestLive_Kamailio(t *testing.T) {
	livetest.Require(t)
	t.Run("hep-udp", func(t *testing.T) { liveExercise(t, "udp") })
	t.Run("hep-tcp", func(t *testing.T) { liveExercise(t, "tcp") })
	t.Run("hep-tls", func(t *testing.T) { liveExercise(t, "tls") })
	t.Run("tls-refused", liveTLSRefused)
	t.Run("auth-key", liveAuthKey)
}

func kamailioConfig(t *testing.T) string {
	return filepath.Join(fixture.Dir(t), "kamailio", "kamailio.cfg")
}

func sippFor(t *testing.T, k *livetest.Kamailio) livetest.SIPp {
	return livetest.SIPp{Dir: filepath.Join(filepath.Dir(kamailioConfig(t)), "sipp"), Proxy: k.Addr()}
}

func hepURI(s *server, transport string) string {
	switch transport {
	case "tcp":
		return fmt.Sprintf(`HEP_URI="sip:%s;transport=tcp"`, s.col.TCPAddr())
	case "tls":
		return fmt.Sprintf(`HEP_URI="sip:%s;transport=tls"`, s.col.TLSAddr())
	}
	return fmt.Sprintf(`HEP_URI="sip:%s"`, s.col.UDPAddr())
}

// liveTLS makes hepvault's certificate and client CA, and a tls.cfg for
// Kamailio's tls module whose client certificate that CA signed, or,
// unless trusted, another CA. It returns hepvault's settings and the
// tls.cfg's path.
func liveTLS(t *testing.T, trusted bool) (tlsConfig, string) {
	t.Helper()
	livetest.RequireKamailioModule(t, "tls", "kamailio-tls-modules")
	dir := t.TempDir()
	ca := certtest.NewCA(t, "hepvault live CA")
	certFile, keyFile := ca.Server(t, "hepvault").Write(t, dir, "hepvault")
	caFile := ca.Write(t, dir, "ca.pem")
	agentCA := ca
	if !trusted {
		agentCA = certtest.NewCA(t, "a CA hepvault does not know")
	}
	kCert, kKey := agentCA.Client(t, "kamailio").Write(t, dir, "kamailio")
	// Kamailio checks hepvault's certificate against ca_list; the server
	// profile is there because the tls: socket needs one.
	cfg := fmt.Sprintf(`[server:default]
method = TLSv1.2+
certificate = %[1]s
private_key = %[2]s

[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
certificate = %[1]s
private_key = %[2]s
ca_list = %[3]s
`, kCert, kKey, caFile)
	path := filepath.Join(dir, "tls.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return tlsConfig{Addr: "127.0.0.1:0", Cert: certFile, Key: keyFile, ClientCA: caFile}, path
}

// startLive starts hepvault and a Kamailio whose siptrace sends to it over
// hepTransport (udp, tcp, or tls with a certificate hepvault trusts unless
// told otherwise), with dumpcap capturing Kamailio's SIP port.
func startLive(t *testing.T, hepTransport string, trusted bool) (*server, *livetest.Kamailio, *livetest.Capture, int) {
	t.Helper()
	kcfg := livetest.KamailioConfig{ConfigFile: kamailioConfig(t), Port: livetest.FreePort(t)}
	var s *server
	if hepTransport == "tls" {
		tc, tlsCfg := liveTLS(t, trusted)
		s = startTestServerWith(t, func(c *serveConfig) { c.TLS = tc })
		kcfg.TLSPort = livetest.FreePort(t)
		kcfg.Defines = append(kcfg.Defines, `TLS_CFG="`+tlsCfg+`"`)
	} else {
		s = startTestServer(t)
	}
	kcfg.Defines = append(kcfg.Defines, hepURI(s, hepTransport))
	wire := livetest.StartCapture(t, captureFilter(s, kcfg.Port))
	return s, livetest.StartKamailio(t, kcfg), wire, kcfg.Port
}

// captureFilter keeps the SIP that passes Kamailio's ports and leaves out
// the HEP it sends to s.
func captureFilter(s *server, kamailioPorts ...int) string {
	var ports []string
	for _, p := range kamailioPorts {
		ports = append(ports, fmt.Sprintf("port %d", p))
	}
	filter := fmt.Sprintf("(%s) and not port %d and not port %d", strings.Join(ports, " or "),
		s.col.UDPAddr().(*net.UDPAddr).Port, s.col.TCPAddr().(*net.TCPAddr).Port)
	if a := s.col.TLSAddr(); a != nil {
		filter += fmt.Sprintf(" and not port %d", a.(*net.TCPAddr).Port)
	}
	return filter
}

// stepLogger logs how long the steps of a live test take.
func stepLogger(t *testing.T) func(string) {
	began := time.Now()
	return func(what string) { t.Logf("%6.2fs %s", time.Since(began).Seconds(), what) }
}

func liveExercise(t *testing.T, hepTransport string) {
	step := stepLogger(t)
	s, k, wire, port := startLive(t, hepTransport, true)
	sipp := sippFor(t, k)
	step("hepvault, kamailio and capture started")

	// Three phones: bob answers, busy is busy, ring rings until cancelled.
	uas := map[string]int{"bob": livetest.FreePort(t), "busy": livetest.FreePort(t), "ring": livetest.FreePort(t)}
	sipp.UAS(t, "uas", uas["bob"])
	sipp.UAS(t, "uas_486.xml", uas["busy"])
	sipp.UAS(t, "uas_cancel.xml", uas["ring"])
	for _, user := range []string{"bob", "busy", "ring"} {
		sipp.UAC(t, "register.xml", "-key", "user", user, "-key", "contact_port", strconv.Itoa(uas[user]))
	}

	step("registered")
	// The trainee writes down the time, to the second, as date prints it;
	// waiting for the next second keeps the registrations before it.
	at := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(at))
	written := at.UTC().Format("Mon Jan _2 15:04:05 MST 2006")

	sipp.UAC(t, "options.xml")                  // OPTIONS, 200 Keepalive from the proxy
	sipp.UAC(t, "uac", "-s", "bob", "-d", "50") // INVITE/100/180/200/ACK/BYE/200
	sipp.UAC(t, "uac_404.xml", "-s", "nobody")  // INVITE, 404 from the proxy, ACK
	sipp.UAC(t, "uac_486.xml", "-s", "busy")    // INVITE, 100, 486, ACKs
	sipp.UAC(t, "uac_cancel.xml", "-s", "ring") // INVITE, 180, CANCEL, 200, 487, ACKs

	step("calls done")
	stored := waitSettled(t, s)
	step("stored")
	msgs := livetest.ReadSIP(t, wire.Stop(t), port)
	if len(msgs) < 40 {
		t.Fatalf("unexpected wire capture: %d SIP messages; want the whole run (40 or more)", len(msgs))
	}

	step("capture read")
	// The instructor's one command, through the CLI.
	var after []livetest.Message
	for _, m := range msgs {
		if !m.Time.Before(at) {
			after = append(after, m)
		}
	}
	checkFirstFive(t, s, written, after[:5])

	// The whole run: each message Kamailio mirrored is stored once.
	checkSameMessages(t, s, stored, msgs)
	// And each call reads as its messages on the wire say.
	checkCalls(t, s, msgs)
	// It came as HEPv3 from this Kamailio, over the transport asked for.
	want := map[string]uint64{"hepvault_queued_total": uint64(len(msgs))}
	for _, tr := range []string{"udp", "tcp", "tls"} {
		want[`hepvault_received_total{transport="`+tr+`"}`] = 0
	}
	want[`hepvault_received_total{transport="`+hepTransport+`"}`] = uint64(len(msgs))
	if hepTransport == "tls" {
		// One connection: Kamailio keeps it for every message.
		want["hepvault_tls_handshakes_total"] = 1
	}
	for sample, want := range want {
		if n := metric(t, s, sample); n != want {
			t.Fatalf("unexpected %s; got %d; want %d", sample, n, want)
		}
	}
	for _, p := range stored {
		if p.HEPVersion != 3 || p.CaptureID != 2001 {
			t.Fatalf("unexpected envelope: HEP version %d, capture id %d; want 3 and 2001 (kamailio.cfg)", p.HEPVersion, p.CaptureID)
		}
	}
}

// waitSettled waits until hepvault has stored something and the count has
// not moved for a while (the last HEP packets are on their way when the
// last sipp exits), and returns everything stored.
func waitSettled(t *testing.T, s *server) []apiPacket {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last, since := -1, time.Now()
	for {
		got, _ := getPackets(t, s, "limit=10000")
		if len(got) != last {
			last, since = len(got), time.Now()
		} else if last > 0 && time.Since(since) > 500*time.Millisecond {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored packets did not settle in 20s (%d so far)", len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkFirstFive runs `hepvault query --from T --limit 5`, as text and as
// JSON, and compares it with the first five SIP messages on the wire.
func checkFirstFive(t *testing.T, s *server, from string, want []livetest.Message) {
	t.Helper()
	query := func(extra ...string) string {
		var out, errOut bytes.Buffer
		args := append([]string{"query", "--server", s.url(""), "--from", from, "--limit", "5"}, extra...)
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
			t.Fatalf("hepvault %s: %v: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	var page struct {
		Packets []apiPacket `json:"packets"`
	}
	if err := json.Unmarshal([]byte(query("--json")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Packets) != 5 {
		t.Fatalf("unexpected number of packets from --from %q; got %d; want 5", from, len(page.Packets))
	}
	for i, m := range want {
		if d := packetDiff(page.Packets[i], m); d != "" {
			t.Fatalf("packet %d after %q: %s; tshark: %s", i+1, from, d, m)
		}
	}

	text := query()
	var heads, starts []string
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "#") && i+1 < len(lines) {
			heads, starts = append(heads, line), append(starts, lines[i+1])
		}
	}
	if len(heads) != 5 {
		t.Fatalf("unexpected text answer: %d packet headers; want 5:\n%s", len(heads), text)
	}
	for i, m := range want {
		route := m.Src.String() + " -> " + m.Dst.String()
		what, start := "request "+m.Method, m.Method+" sip:"
		if !m.IsRequest() {
			what, start = fmt.Sprintf("response %d ", m.Status), fmt.Sprintf("SIP/2.0 %d ", m.Status)
		}
		if !strings.HasPrefix(heads[i], fmt.Sprintf("#%d ", i+1)) || !strings.Contains(heads[i], " UDP "+route+"  "+what) {
			t.Fatalf("packet %d: unexpected header %q; want %q and %q", i+1, heads[i], route, what)
		}
		if !strings.HasPrefix(starts[i], start) {
			t.Fatalf("packet %d: message starts %q; want %q", i+1, starts[i], start)
		}
	}
	t.Logf("hepvault query --from %q --limit 5:\n%s", from, text)
}

// packetDiff says how a stored packet differs from a message on the wire,
// or "" when it is the same message.
func packetDiff(p apiPacket, m livetest.Message) string {
	kind, method, status := "response", "", m.Status
	if m.IsRequest() {
		kind, method, status = "request", m.Method, 0
	}
	got := fmt.Sprintf("%s %s:%d -> %s:%d %s %s %d CSeq %d %s Call-ID %s", p.Transport, p.SrcIP, p.SrcPort, p.DstIP, p.DstPort,
		p.Kind, deref(p.Method), derefInt(p.StatusCode), p.CSeq, p.CSeqMethod, p.CallID)
	want := fmt.Sprintf("udp %s -> %s %s %s %d CSeq %d %s Call-ID %s", m.Src, m.Dst, kind, method, status, m.CSeq, m.CSeqMethod, m.CallID)
	if got != want {
		return fmt.Sprintf("got %s; want %s", got, want)
	}
	// The HEP time is Kamailio's clock when it mirrored the message: within
	// moments of the wire, not hepvault's arrival time.
	at, err := time.Parse(time.RFC3339Nano, p.CapturedAt)
	if err != nil {
		return err.Error()
	}
	if d := at.Sub(m.Time); d > time.Second || d < -time.Second {
		return fmt.Sprintf("captured at %s, %s from the wire time %s", p.CapturedAt, d, m.Time)
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

// messageKey names a SIP message by what both sides know of it.
func messageKey(src, dst netip.AddrPort, what string, cseq uint32, cseqMethod, callID string) string {
	return fmt.Sprintf("%s -> %s %s CSeq %d %s Call-ID %s", src, dst, what, cseq, cseqMethod, callID)
}

// checkSameMessages checks that stored and wire hold the same messages,
// each as many times (a retransmission is on the wire, and mirrored, twice).
func checkSameMessages(t *testing.T, s *server, stored []apiPacket, wire []livetest.Message) {
	t.Helper()
	count := map[string]int{}
	for _, m := range wire {
		what := m.Method
		if !m.IsRequest() {
			what = strconv.Itoa(m.Status)
		}
		count[messageKey(m.Src, m.Dst, what, m.CSeq, m.CSeqMethod, m.CallID)]++
	}
	for _, p := range stored {
		what := deref(p.Method)
		if p.Kind == "response" {
			what = strconv.Itoa(derefInt(p.StatusCode))
		}
		src := netip.AddrPortFrom(netip.MustParseAddr(p.SrcIP), p.SrcPort)
		dst := netip.AddrPortFrom(netip.MustParseAddr(p.DstIP), p.DstPort)
		count[messageKey(src, dst, what, p.CSeq, p.CSeqMethod, p.CallID)]--
	}
	for k, n := range count {
		if n > 0 {
			t.Errorf("on the wire but not stored (%d times): %s", n, k)
		} else if n < 0 {
			t.Errorf("stored but not on the wire (%d extra): %s", -n, k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(stored) != len(wire) {
		t.Fatalf("unexpected stored count; got %d; want %d", len(stored), len(wire))
	}
	if inDB := storedInDB(t, s.cfg.DB); inDB != len(wire) {
		t.Fatalf("unexpected count in the database; got %d; want %d", inDB, len(wire))
	}
}

// liveTLSRefused: a Kamailio whose client certificate another CA signed
// mirrors over TLS to a hepvault that wants mutual TLS. Kamailio's
// connection is refused at the handshake, counted, and nothing is stored.
func liveTLSRefused(t *testing.T) {
	s, k, wire, _ := startLive(t, "tls", false)
	sippFor(t, k).UAC(t, "options.xml")
	wire.Stop(t)
	waitUntil(t, 10*time.Second, "a bad_client_cert handshake failure", func() bool {
		return metric(t, s, `hepvault_tls_handshake_failures_total{reason="bad_client_cert"}`) > 0
	})
	// What Kamailio sent would have arrived by now.
	time.Sleep(300 * time.Millisecond)
	for _, sample := range []string{`hepvault_received_total{transport="tls"}`, "hepvault_tls_handshakes_total", "hepvault_queued_total"} {
		if n := metric(t, s, sample); n != 0 {
			t.Fatalf("unexpected %s from a refused Kamailio; got %d; want 0", sample, n)
		}
	}
	if n := storedInDB(t, s.cfg.DB); n != 0 {
		t.Fatalf("a refused Kamailio's packets were stored: %d", n)
	}
}

// liveAuthKey runs three Kamailios against one hepvault that requires a
// key: one sends the key, one another key, one none. Only the first one's
// messages are stored; the others' are counted as dropped for auth.
func liveAuthKey(t *testing.T) {
	const key = "live-test-key"
	step := stepLogger(t)
	s := startTestServerWith(t, func(c *serveConfig) { c.HEPAuthKey = key })
	step("hepvault started")
	ports := map[string]int{"right": livetest.FreePort(t), "wrong": livetest.FreePort(t), "none": livetest.FreePort(t)}
	wire := livetest.StartCapture(t, captureFilter(s, ports["right"], ports["wrong"], ports["none"]))
	for _, name := range []string{"right", "wrong", "none"} {
		defines := []string{hepURI(s, "udp")}
		switch name {
		case "right":
			defines = append(defines, `AUTH_KEY="`+key+`"`)
		case "wrong":
			defines = append(defines, `AUTH_KEY="`+key+`-not"`)
		}
		k := livetest.StartKamailio(t, livetest.KamailioConfig{ConfigFile: kamailioConfig(t), Port: ports[name], Defines: defines})
		sippFor(t, k).UAC(t, "options.xml")
		step("kamailio with " + name + " key pinged")
	}
	path := wire.Stop(t)
	step("capture stopped")
	var right, others []livetest.Message
	for _, m := range livetest.ReadSIP(t, path, ports["right"], ports["wrong"], ports["none"]) {
		if int(m.Src.Port()) == ports["right"] || int(m.Dst.Port()) == ports["right"] {
			right = append(right, m)
		} else {
			others = append(others, m)
		}
	}
	if len(right) != 2 || len(others) != 4 {
		t.Fatalf("unexpected wire capture: %d messages with the right key, %d without; want 2 and 4", len(right), len(others))
	}
	waitMetric(t, s, authDropped, uint64(len(others)))
	checkSameMessages(t, s, waitStored(t, s, len(right)), right)
	step("checked")
}
