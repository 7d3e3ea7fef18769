package collector

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
)

func startCollector(t *testing.T, cfg Config) *Collector {
	t.Helper()
	c := New(cfg)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// drain reads n packets from the queue, failing after a while.
func drain(t *testing.T, c *Collector, n int) []hepvault.Packet {
	t.Helper()
	var got []hepvault.Packet
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case p := <-c.Packets():
			got = append(got, p)
		case <-deadline:
			t.Fatalf("got %d packets; want %d; metrics: dropped %d", len(got), n, c.Metrics().DroppedTotal())
		}
	}
	return got
}

// checkTruth compares a packet with what tshark and the independent decoder read.
func checkTruth(t *testing.T, p hepvault.Packet, r fixture.Record) {
	t.Helper()
	tr := r.Truth
	wantKind := map[string]hepvault.Kind{"request": hepvault.KindRequest, "response": hepvault.KindResponse}[tr.SIPType]
	if p.Kind != wantKind || p.Method != tr.Method || p.StatusCode != tr.StatusCode || p.CSeq != tr.CSeqNum ||
		p.CSeqMethod != tr.CSeqMethod || p.CallID != tr.CallID {
		t.Fatalf("frame %d: unexpected classification; got %s cseq %d %s call-id %s; want %s %s %d cseq %d %s call-id %s",
			tr.Frame, p.Summary(), p.CSeq, p.CSeqMethod, p.CallID, tr.SIPType, tr.Method, tr.StatusCode, tr.CSeqNum, tr.CSeqMethod, tr.CallID)
	}
	if tr.SIPType == "request" && p.RequestURI != tr.RURI {
		t.Fatalf("frame %d: unexpected request URI; got %q; want %q", tr.Frame, p.RequestURI, tr.RURI)
	}
	if tr.SIPType == "response" && p.Reason != tr.Reason {
		t.Fatalf("frame %d: unexpected reason; got %q; want %q", tr.Frame, p.Reason, tr.Reason)
	}
	if p.CapturedAt.UnixMicro() != int64(tr.TsSec)*1e6+int64(tr.TsUsec) {
		t.Fatalf("frame %d: unexpected capture time %v", tr.Frame, p.CapturedAt)
	}
	if p.SrcIP.String() != tr.SrcIP || p.DstIP.String() != tr.DstIP || p.SrcPort != tr.SrcPort || p.DstPort != tr.DstPort {
		t.Fatalf("frame %d: unexpected addresses %s:%d -> %s:%d", tr.Frame, p.SrcIP, p.SrcPort, p.DstIP, p.DstPort)
	}
	if int(p.Transport) != tr.IPProto || p.CaptureID != tr.CaptureID || int(p.HEPVersion) != tr.HEPVersion {
		t.Fatalf("frame %d: unexpected envelope: transport %d capture id %d version %d", tr.Frame, p.Transport, p.CaptureID, p.HEPVersion)
	}
	if string(p.Raw) != string(r.SIP()) {
		t.Fatalf("frame %d: raw payload differs", tr.Frame)
	}
}

func TestCollector_UDPFixtures(t *testing.T) {
	for _, name := range []string{fixture.HEP3, fixture.HEP2} {
		t.Run(name, func(t *testing.T) {
			recs := fixture.Load(t, name)
			c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", UDPReaders: 1, QueueSize: 1024})
			conn, err := net.Dial("udp", c.UDPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i, r := range recs {
				if _, err := conn.Write(r.Datagram); err != nil {
					t.Fatal(err)
				}
				// At most 32 datagrams in flight: on a loaded machine the
				// reader may not run for a while, and a loopback burst would
				// overrun the kernel's default socket buffer.
				waitRead(t, c, i+1-32)
			}
			got := drain(t, c, len(recs))
			for i := range recs {
				checkTruth(t, got[i], recs[i])
			}
			if n := c.Metrics().Queued.Load(); n != uint64(len(recs)) {
				t.Fatalf("unexpected queued count; got %d; want %d", n, len(recs))
			}
		})
	}
}

func TestCollector_TCPStreamSplitAnywhere(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	c := startCollector(t, Config{TCPAddr: "127.0.0.1:0", QueueSize: 1024})
	var stream []byte
	for _, r := range recs {
		stream = append(stream, r.Datagram...)
	}
	// Two agents at once, writing in odd-sized pieces that cut packets.
	for agent := 0; agent < 2; agent++ {
		go func(step int) {
			conn, err := net.Dial("tcp", c.TCPAddr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			for off := 0; off < len(stream); off += step {
				if _, err := conn.Write(stream[off:min(off+step, len(stream))]); err != nil {
					t.Error(err)
					return
				}
			}
		}(97 + 1000*agent)
	}
	got := drain(t, c, 2*len(recs))
	// Every packet arrives twice, once per agent; each must match a record.
	seen := 0
	for i := range got {
		for j := range recs {
			if string(got[i].Raw) == string(recs[j].SIP()) && got[i].CapturedAt.UnixMicro() == int64(recs[j].Truth.TsSec)*1e6+int64(recs[j].Truth.TsUsec) {
				checkTruth(t, got[i], recs[j])
				seen++
				break
			}
		}
	}
	if seen != len(got) {
		t.Fatalf("unexpected matches; got %d of %d packets matching a fixture record", seen, len(got))
	}
}

func TestCollector_BadInputCounted(t *testing.T) {
	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", UDPReaders: 1, QueueSize: 16})
	recs := fixture.Load(t, fixture.HEP3)
	conn, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Not HEP; HEP with a lying length; then a HEP packet whose SIP is garbage.
	conn.Write([]byte("hello, not HEP"))
	bad := append([]byte(nil), recs[0].Datagram...)
	bad[4], bad[5] = 0xff, 0xff
	conn.Write(bad)
	garbage := append([]byte(nil), recs[0].Datagram[:len(recs[0].Datagram)-recs[0].Truth.PayloadLen]...)
	garbage = append(garbage, make([]byte, recs[0].Truth.PayloadLen)...) // NUL bytes, same length
	conn.Write(garbage)
	got := drain(t, c, 1)
	if got[0].Kind != hepvault.KindInvalid || got[0].InvalidReason == "" || len(got[0].Raw) != recs[0].Truth.PayloadLen {
		t.Fatalf("unexpected packet for a garbage payload; got %s, %d raw bytes", got[0].Summary(), len(got[0].Raw))
	}
	m := c.Metrics()
	if m.Dropped(ReasonNotHEP) != 1 || m.Dropped(ReasonBadLength) != 1 || m.InvalidSIP.Load() != 1 {
		t.Fatalf("unexpected counters: not_hep %d bad_length %d invalid_sip %d", m.Dropped(ReasonNotHEP), m.Dropped(ReasonBadLength), m.InvalidSIP.Load())
	}
	// A TCP stream of garbage is closed and counted; the listener lives on.
	tc, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection sending garbage was not closed")
	}
	tc.Close()
	if m.TCPBadFrames.Load() != 1 {
		t.Fatalf("unexpected bad frame count; got %d; want 1", m.TCPBadFrames.Load())
	}
	tc2, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc2.Close()
	tc2.Write(recs[1].Datagram)
	checkTruth(t, drain(t, c, 1)[0], recs[1])
}

func TestCollector_QueueFullIsCountedNotBlocking(t *testing.T) {
	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", UDPReaders: 1, QueueSize: 2})
	recs := fixture.Load(t, fixture.HEP3)
	conn, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, r := range recs[:10] {
		conn.Write(r.Datagram)
		time.Sleep(100 * time.Microsecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	m := c.Metrics()
	for m.Queued.Load()+m.Dropped(ReasonQueueFull) < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m.Queued.Load() != 2 || m.Dropped(ReasonQueueFull) != 8 {
		t.Fatalf("unexpected counts; queued %d, queue_full %d; want 2 and 8", m.Queued.Load(), m.Dropped(ReasonQueueFull))
	}
}

// waitRead waits until the collector has read at least n datagrams.
func waitRead(t *testing.T, c *Collector, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for int(c.Metrics().UDPDatagrams.Load()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("collector read %d datagrams in 10 s; want %d", c.Metrics().UDPDatagrams.Load(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}
