package collector

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
)

// sipV3 is a HEPv3 packet from captureID carrying a SIP message whose start
// line is startLine (a request's or a response's).
func sipV3(captureID uint32, startLine, method string) []byte {
	p := hep.Packet{
		Family: hep.FamilyIPv4, Proto: 17, ProtoType: hep.ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("127.0.0.1"), DstIP: netip.MustParseAddr("127.0.0.1"), SrcPort: 5060, DstPort: 5070,
		TsSec: 1795609948, CaptureID: captureID,
		Payload: []byte(startLine + "\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" +
			"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tally-test\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n"),
	}
	return hep.AppendV3(nil, &p)
}

// TestTally_Counts runs packets through one worker and checks each count
// by version, capture id, kind, method and status class, and that none
// reaches the metrics before flush.
func TestTally_Counts(t *testing.T) {
	c := New(Config{QueueSize: 64})
	w := &worker{c: c, transport: TransportTCP}
	hep2 := fixture.Load(t, fixture.HEP2)
	garbage := sipV3(7, "this is not SIP", "X")
	for _, b := range [][]byte{
		sipV3(7, "INVITE sip:b@127.0.0.1 SIP/2.0", "INVITE"),
		sipV3(7, "INVITE sip:b@127.0.0.1 SIP/2.0", "INVITE"),
		sipV3(7, "FOO sip:b@127.0.0.1 SIP/2.0", "FOO"),
		sipV3(8, "SIP/2.0 100 Trying", "INVITE"),
		sipV3(8, "SIP/2.0 486 Busy Here", "INVITE"),
		sipV3(8, "SIP/2.0 200 OK", "INVITE"),
		garbage,
		[]byte("not HEP at all"),
	} {
		w.handle(b, time.Now())
	}
	m := c.Metrics()
	if m.Decoded(TransportTCP, 3) != 0 {
		t.Fatal("counts reached the metrics before flush")
	}
	w.flush()
	check := func(what string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("unexpected %s; got %d; want %d", what, got, want)
		}
	}
	check("v3 over tcp", m.Decoded(TransportTCP, 3), 7)
	check("v3 over udp", m.Decoded(TransportUDP, 3), 0)
	check("requests", m.SIPKind(hepvault.KindRequest), 3)
	check("responses", m.SIPKind(hepvault.KindResponse), 3)
	check("invalid", m.SIPKind(hepvault.KindInvalid), 1)
	check("INVITE", m.SIPMethod(sip.MethodInvite), 2)
	check("other method", m.SIPMethod(sip.MethodOther), 1)
	check("1xx", m.SIPClass(1), 1)
	check("2xx", m.SIPClass(2), 1)
	check("4xx", m.SIPClass(4), 1)
	var methods, classes uint64
	for _, meth := range SIPMethods() {
		methods += m.SIPMethod(meth)
	}
	for cl := hepvault.StatusClass(1); cl <= 6; cl++ {
		classes += m.SIPClass(cl)
	}
	check("methods and classes", methods+classes, 6)

	w.handle(hep2[0].Datagram, time.Now())
	w.flush()
	check("v2 over tcp", m.Decoded(TransportTCP, 2), 1)
	ids, other := m.CaptureIDs()
	want := fmt.Sprint([]AgentCount{{7, 4}, {8, 3}, {hep2[0].Truth.CaptureID, 1}})
	if hep2[0].Truth.CaptureID < 7 {
		want = fmt.Sprint([]AgentCount{{hep2[0].Truth.CaptureID, 1}, {7, 4}, {8, 3}})
	}
	if fmt.Sprint(ids) != want || other != 0 {
		t.Errorf("unexpected counts by capture id; got %v, other %d; want %s", ids, other, want)
	}
	w.flush() // nothing left: counts twice nothing
	check("v3 over tcp after a second flush", m.Decoded(TransportTCP, 3), 7)
}

// TestTally_CaptureIDsBounded sends packets of 200 capture ids from four
// readers at once: the first MaxCaptureIDs ids get a counter each, every
// id keeps the same one, and the rest are counted as other.
func TestTally_CaptureIDsBounded(t *testing.T) {
	c := New(Config{QueueSize: 1 << 14})
	const ids, rounds, readers = 200, 5, 4
	grams := make([][]byte, ids)
	for i := range grams {
		grams[i] = sipV3(uint32(1000+i), "OPTIONS sip:127.0.0.1 SIP/2.0", "OPTIONS")
	}
	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{c: c}
			for k := 0; k < rounds; k++ {
				for i := range grams {
					w.handle(grams[(i+r*37)%ids], time.Now())
				}
				w.flush()
			}
		}()
	}
	wg.Wait()
	got, other := c.Metrics().CaptureIDs()
	if len(got) != MaxCaptureIDs {
		t.Fatalf("unexpected capture ids with a counter; got %d; want %d", len(got), MaxCaptureIDs)
	}
	var sum uint64
	for _, a := range got {
		sum += a.Packets
		// An id that won its slot while other readers raced for the last
		// ones may have had a packet or so counted as other first.
		if a.Packets > rounds*readers || a.Packets < rounds*readers-readers {
			t.Errorf("capture id %d: %d packets; want about %d", a.CaptureID, a.Packets, rounds*readers)
		}
	}
	if total := uint64(ids * rounds * readers); sum+other != total {
		t.Fatalf("unexpected total; got %d by id + %d other; want %d", sum, other, total)
	}
}

// TestTally_FlushedByReaders: the readers add their counts to the metrics
// by themselves, over UDP and TCP, with no packet after the ones counted.
func TestTally_FlushedByReaders(t *testing.T) {
	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", UDPReaders: 1, QueueSize: 64})
	go func() {
		for range c.Packets() {
		}
	}()
	u, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	tc, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	for i := 0; i < 3; i++ {
		u.Write(sipV3(1, "BYE sip:b@127.0.0.1 SIP/2.0", "BYE"))
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 2; i++ {
		tc.Write(sipV3(2, "SIP/2.0 603 Decline", "INVITE"))
	}
	m := c.Metrics()
	deadline := time.Now().Add(5 * time.Second)
	for m.Decoded(TransportUDP, 3) != 3 || m.Decoded(TransportTCP, 3) != 2 || m.SIPMethod(sip.MethodBye) != 3 || m.SIPClass(6) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("counts not flushed: udp %d, tcp %d, BYE %d, 6xx %d; want 3, 2, 3, 2",
				m.Decoded(TransportUDP, 3), m.Decoded(TransportTCP, 3), m.SIPMethod(sip.MethodBye), m.SIPClass(6))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkTally is what the counts by HEP version, capture id and SIP
// message add to each packet of worker.handle: three counts into the
// worker's own memory, and a flush every udpBatch packets, as a UDP reader
// flushes after each batch read. Cycles over the capture ids of 8 agents.
func BenchmarkTally(b *testing.B) {
	c := New(Config{QueueSize: 1})
	w := &worker{c: c}
	w.msg.Method = []byte("INVITE")
	pkts := []hepvault.Packet{{Kind: hepvault.KindRequest}, {Kind: hepvault.KindResponse, StatusCode: 180},
		{Kind: hepvault.KindResponse, StatusCode: 200}, {Kind: hepvault.KindRequest}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.countDecoded(3)
		w.countAgent(uint32(i>>6) & 7) // an agent's packets come in runs
		w.countSIP(&pkts[i&3])
		if i++; i%udpBatch == 0 {
			w.flush()
		}
	}
}
