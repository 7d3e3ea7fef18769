package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/livetest"
)

// siprecRun is what the SIPREC scenario did: the Call-IDs of its calls and
// who took part in each recorded one.
type siprecRun struct {
	wire  string // the capture of Kamailio's SIP port
	port  int    // Kamailio's SIP port
	calls map[string]siprecCall
}

type siprecCall struct {
	callID    string
	sessionID string   // its Session-ID header (RFC 7989)
	callee    string   // the user called
	linkBy    string   // what the recording's metadata names the call by: call-id, session-id, participants; "" unrecorded
	aors      []string // the participants the metadata names, the supervisor of the update last
	gap       string   // "" or why the call is a gap: unrecorded, ended_early (as the API names them)
}

// runSIPREC runs the SIPREC scenario through Kamailio k, its HEP going to
// hepvault (or nowhere that matters, for a fixture): four answered calls
// from sipp's uac_rec.xml to four sipp UASs; an SRC (src.xml) records
// three of them, each to an SRS of its own (uas_srs.xml), with a partial
// metadata update in a re-INVITE after 1 s:
//
//	a: to bob, 2.5 s; its recording names it by Call-ID and Session-ID, ends 0.3 s after it
//	b: to carol, 4 s; named by Session-ID only; the recording ends ~2.7 s before the call: a gap
//	d: to dave, 2.5 s; named by its participants only
//	c: to erin, 0.2 s; not recorded: a gap
func runSIPREC(t *testing.T, k *livetest.Kamailio, wire *livetest.Capture) siprecRun {
	t.Helper()
	sipp := sippFor(t, k)
	users := []string{"bob", "carol", "dave", "erin"}
	uas := map[string]int{}
	for _, u := range users {
		uas[u] = livetest.FreePort(t)
		sipp.UAS(t, "uas", uas[u])
	}
	for _, u := range []string{"srs-a", "srs-b", "srs-d"} {
		uas[u] = livetest.FreePort(t)
		sipp.UAS(t, "uas_srs.xml", uas[u])
	}
	for u, port := range uas {
		sipp.UAC(t, "register.xml", "-key", "user", u, "-key", "contact_port", strconv.Itoa(port))
	}
	run := siprecRun{port: k.Port, calls: map[string]siprecCall{}}
	tag := randomHex(t, 4)
	host := "127.0.0.1"
	for name, c := range map[string]siprecCall{
		"a": {callee: "bob", linkBy: "call-id"},
		"b": {callee: "carol", linkBy: "session-id", gap: "ended_early"},
		"d": {callee: "dave", linkBy: "participants"},
		"c": {callee: "erin", gap: "unrecorded"},
	} {
		c.callID = fmt.Sprintf("siprec-%s-%s@%s", name, tag, host)
		c.sessionID = randomHex(t, 16)
		if c.linkBy != "" {
			c.aors = []string{"sip:sipp@" + host, "sip:" + c.callee + "@" + host, "sip:supervisor@" + host}
		}
		run.calls[name] = c
	}
	dur := map[string]string{"a": "2500", "b": "4000", "d": "2500", "c": "200"}
	var calls []*livetest.Run
	for _, name := range []string{"a", "b", "d", "c"} {
		c := run.calls[name]
		calls = append(calls, sipp.StartUAC(t, "uac_rec.xml", "-s", c.callee, "-d", dur[name],
			"-cid_str", c.callID, "-key", "session_id", c.sessionID))
	}
	time.Sleep(300 * time.Millisecond) // the calls are answered
	t1 := time.Now().UTC()
	recDur := map[string]string{"a": "1500", "b": "10", "d": "1500"}
	for _, name := range []string{"a", "b", "d"} {
		c := run.calls[name]
		extra := ""
		switch c.linkBy {
		case "call-id":
			extra = "<sipSessionID>" + c.sessionID + "</sipSessionID>" +
				`<extensiondata xmlns:call="urn:example:siprec:call"><call:callid>` + c.callID + "</call:callid></extensiondata>"
		case "session-id":
			extra = "<sipSessionID>" + c.sessionID + "</sipSessionID>"
		}
		calls = append(calls, sipp.StartUAC(t, "src.xml", "-s", "srs-"+name, "-d", recDur[name],
			"-key", "cs_extra", extra, "-key", "a_aor", c.aors[0], "-key", "a_name", "SIPp caller",
			"-key", "b_aor", c.aors[1], "-key", "b_name", c.callee,
			"-key", "t1", t1.Format(time.RFC3339Nano), "-key", "t2", t1.Add(time.Second).Format(time.RFC3339Nano)))
	}
	for _, r := range calls {
		r.Wait(t)
	}
	run.wire = wire.Stop(t)
	if dir := os.Getenv("HEPVAULT_SIPREC_FIXTURE"); dir != "" {
		writeSIPRECFixture(t, run, dir)
	}
	return run
}

// writeSIPRECFixture saves the wire capture and tshark's reading of it in
// dir, as testdata/FIXTURES.md describes.
func writeSIPRECFixture(t *testing.T, run siprecRun, dir string) {
	t.Helper()
	b, err := os.ReadFile(run.wire)
	if err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(dir, "kamailio-siprec.pcap")
	if err := os.WriteFile(pcap, b, 0o644); err != nil {
		t.Fatal(err)
	}
	decode := fmt.Sprintf("udp.port==%d,sip", run.port)
	tshark := func(out, filter string, fields ...string) {
		args := []string{"-r", pcap, "-n", "-d", decode, "-Y", filter, "-T", "fields", "-E", "aggregator=|"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		got, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark %v: %v", args, err)
		}
		if err := os.WriteFile(filepath.Join(dir, out), got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tshark("kamailio-siprec.truth.tsv", "sip", "frame.number", "frame.time_epoch", "sip.Method", "sip.Status-Code", "sip.CSeq.method", "sip.Call-ID")
	// The recording metadata as tshark's XML dissector reads it: each
	// attribute and each text, in document order.
	tshark("kamailio-siprec.metadata.tsv", "sip.Method == INVITE && xml", "frame.number", "sip.Call-ID",
		"sip.CSeq.seq", "xml.attribute", "xml.cdata")
	t.Logf("fixture written to %s; calls: %+v", dir, run.calls)
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestLive_SIPREC(t *testing.T) {
	livetest.Require(t)
	step := stepLogger(t)
	s := startTestServer(t)
	port := livetest.FreePort(t)
	wire := livetest.StartCapture(t, captureFilter(s, port))
	k := livetest.StartKamailio(t, livetest.KamailioConfig{
		ConfigFile: kamailioConfig(t), Port: port, Defines: []string{hepURI(s, "udp")},
	})
	step("kamailio and capture started")
	run := runSIPREC(t, k, wire)
	step("calls done")
	stored := waitSettled(t, s)
	msgs := livetest.ReadSIP(t, run.wire, port)
	checkSameMessages(t, s, stored, msgs)
	step("stored")
	checkSIPREC(t, s, run, msgs)
	step("recordings checked")
}

// checkSIPREC asks `hepvault recordings` and `recordings gaps` for the
// run's window: each recording session the SRC opened (the Call-IDs of the
// wire's INVITEs with Require: siprec, read by tshark as any INVITE)
// found, linked to the call it recorded by what its metadata gave, with
// the participants the SRC sent; the unrecorded call and the one recorded
// only in part are the gaps.
func checkSIPREC(t *testing.T, s *server, run siprecRun, wire []livetest.Message) {
	t.Helper()
	calls := map[string]siprecCall{}
	for _, c := range run.calls {
		calls[c.callID] = c
	}
	srcDialogs := map[string]bool{}
	for _, m := range wire {
		if m.Method == "INVITE" && calls[m.CallID].callID == "" {
			srcDialogs[m.CallID] = true
		}
	}
	from := wire[0].Time.Add(-time.Second).Format(time.RFC3339Nano)
	to := wire[len(wire)-1].Time.Add(time.Second).Format(time.RFC3339Nano)
	recs, gaps := recordingsOf(t, s, from, to)
	if len(recs) != len(srcDialogs) || len(recs) != 3 {
		t.Fatalf("unexpected recordings; got %d; want the %d recording dialogs of the wire", len(recs), len(srcDialogs))
	}
	linked := map[string]bool{}
	for _, r := range recs {
		if !srcDialogs[r.CallID] {
			t.Fatalf("recording %s is not a recording dialog of the wire", r.CallID)
		}
		if len(r.RecordedCallIDs) != 1 {
			t.Fatalf("recording %s: unexpected recorded calls %q; want one", r.CallID, r.RecordedCallIDs)
		}
		c, ok := calls[r.RecordedCallIDs[0]]
		wantBy := map[string]string{"call-id": "call_id", "session-id": "session_id", "participants": "participants"}[c.linkBy]
		if !ok || r.LinkedBy != wantBy || linked[c.callID] {
			t.Fatalf("recording %s: unexpected link to %q by %q; want a recorded call of the run, each once, by %s", r.CallID, r.RecordedCallIDs, r.LinkedBy, c.linkBy)
		}
		linked[c.callID] = true
		var aors []string
		for _, p := range r.Participants {
			aors = append(aors, p.AOR)
		}
		if strings.Join(aors, " ") != strings.Join(c.aors, " ") || r.State != "ended" {
			t.Fatalf("recording %s of %s: unexpected participants %q, state %s; want %q, ended", r.CallID, c.callID, aors, r.State, c.aors)
		}
	}
	got := map[string]string{}
	for _, g := range gaps {
		got[g.CallID] = g.Reason
	}
	for _, c := range run.calls {
		if got[c.callID] != c.gap {
			t.Fatalf("call %s: unexpected gap %q; want %q", c.callID, got[c.callID], c.gap)
		}
	}
	if len(gaps) != 2 {
		t.Fatalf("unexpected gaps %v; want 2", got)
	}
}
