package capture_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/internal/fixture"
)

var (
	uac = netip.MustParseAddrPort("192.0.2.1:5060")
	uas = netip.MustParseAddrPort("192.0.2.2:5060")
)

// stream is one direction of a TCP connection under construction.
type stream struct {
	src, dst netip.AddrPort
	isn      uint32
	data     []byte
}

type seg struct {
	s      *stream
	off, n int // data[off:off+n]
}

// sippMessages returns the 30 SIP messages of sipp-tcp.pcapng, split by
// direction.
func sippMessages(t *testing.T) (toUAS, toUAC [][]byte) {
	t.Helper()
	pkts, _, err := readAll(t, readFixture(t, fixture.SIPPTCPPcap))
	if err != nil || len(pkts) != 30 {
		t.Fatalf("sipp-tcp fixture: %d messages, %v", len(pkts), err)
	}
	for _, p := range pkts {
		if p.DstPort == 5070 {
			toUAS = append(toUAS, p.Raw)
		} else {
			toUAC = append(toUAC, p.Raw)
		}
	}
	return toUAS, toUAC
}

// segments cuts a stream at random sizes from 1 to max bytes: many
// messages are split, many segments hold the end of one message and the
// start of others.
func segments(rng *rand.Rand, s *stream, max int) []seg {
	var out []seg
	for off := 0; off < len(s.data); {
		n := min(1+rng.IntN(max), len(s.data)-off)
		out = append(out, seg{s, off, n})
		off += n
	}
	return out
}

// capture writes both directions: handshake, the segments interleaved in
// the given order, then FINs.
func tcpCapture(t *testing.T, a, b *stream, order []seg) []byte {
	t.Helper()
	ts := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var recs []rec
	add := func(d []byte) {
		ts = ts.Add(time.Millisecond)
		recs = append(recs, rec{ts: ts, data: d})
	}
	add(tcpFrame(t, a.src, a.dst, a.isn-1, tcpFlags{syn: true}, nil))
	add(tcpFrame(t, b.src, b.dst, b.isn-1, tcpFlags{syn: true, ack: true}, nil))
	for _, sg := range order {
		add(tcpFrame(t, sg.s.src, sg.s.dst, sg.s.isn+uint32(sg.off), tcpFlags{ack: true}, sg.s.data[sg.off:sg.off+sg.n]))
	}
	add(tcpFrame(t, a.src, a.dst, a.isn+uint32(len(a.data)), tcpFlags{fin: true, ack: true}, nil))
	add(tcpFrame(t, b.src, b.dst, b.isn+uint32(len(b.data)), tcpFlags{fin: true, ack: true}, nil))
	return writePcap(t, 1, recs)
}

// interleave merges the two directions' segments, keeping each in order.
func interleave(rng *rand.Rand, x, y []seg) []seg {
	var out []seg
	for len(x) > 0 || len(y) > 0 {
		if len(y) == 0 || (len(x) > 0 && rng.IntN(2) == 0) {
			out, x = append(out, x[0]), x[1:]
		} else {
			out, y = append(out, y[0]), y[1:]
		}
	}
	return out
}

func raws(pkts []hepvault.Packet, src netip.AddrPort) [][]byte {
	var out [][]byte
	for _, p := range pkts {
		if netip.AddrPortFrom(p.SrcIP, p.SrcPort) == src {
			out = append(out, p.Raw)
		}
	}
	return out
}

func equalMessages(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

// TestRead_TCPReassembly cuts real SIP messages into random segments (split
// messages, several per segment, keep-alives between them), reorders,
// duplicates and overlaps some, and expects every message back, in order.
func TestRead_TCPReassembly(t *testing.T) {
	toUAS, toUAC := sippMessages(t)
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		a := &stream{src: uac, dst: uas, isn: rng.Uint32()} // wraps around sometimes
		b := &stream{src: uas, dst: uac, isn: 0xffffff00}   // wraps around always
		for i, m := range toUAS {
			if i%4 == 3 {
				a.data = append(a.data, "\r\n\r\n"...) // RFC 5626 keep-alive
			}
			a.data = append(a.data, m...)
		}
		for _, m := range toUAC {
			b.data = append(b.data, m...)
		}
		order := interleave(rng, segments(rng, a, 700), segments(rng, b, 300))
		// Swap some neighbours of the same direction (out of order), and
		// send some again (retransmissions), one with more data than before.
		dups := 0
		for i := 0; i+1 < len(order); i++ {
			switch rng.IntN(10) {
			case 0:
				if order[i].s == order[i+1].s {
					order[i], order[i+1] = order[i+1], order[i]
					i++
				}
			case 1:
				order = slices.Insert(order, i+1, order[i])
				dups++
				i++
			}
		}
		if last := order[len(order)-1]; last.off > 0 {
			order = append(order, seg{last.s, last.off - 1, last.n + 1}) // overlaps: no new bytes, a duplicate
			dups++
		}
		got, st, err := readAll(t, tcpCapture(t, a, b, order))
		if err != nil {
			t.Fatal(err)
		}
		if g := raws(got, uac); !equalMessages(g, toUAS) {
			t.Fatalf("seed %d: unexpected messages uac→uas; got %d; want %d (skipped %v)", seed, len(g), len(toUAS), st.Skipped)
		}
		if g := raws(got, uas); !equalMessages(g, toUAC) {
			t.Fatalf("seed %d: unexpected messages uas→uac; got %d; want %d (skipped %v)", seed, len(g), len(toUAC), st.Skipped)
		}
		if st.Skipped[capture.ReasonTCPGap] != 0 || st.Skipped[capture.ReasonTCPUnfinished] != 0 || st.Skipped[capture.ReasonNotSIP] != 0 {
			t.Fatalf("seed %d: unexpected skips %v", seed, st.Skipped)
		}
		if st.Skipped[capture.ReasonTCPDuplicate] != uint64(dups) {
			t.Fatalf("seed %d: unexpected duplicates; got %d; want %d", seed, st.Skipped[capture.ReasonTCPDuplicate], dups)
		}
		if st.Skipped[capture.ReasonKeepalive] == 0 {
			t.Fatalf("seed %d: keep-alives not counted", seed)
		}
		for _, p := range got {
			if p.Transport != hepvault.TransportTCP || p.Kind == hepvault.KindInvalid {
				t.Fatalf("seed %d: unexpected packet %s %s", seed, p.Transport, p.Summary())
			}
		}
	}
}

// TestRead_TCPHole drops one segment: the message it was part of is lost and
// counted, every other one is found (reading resumes at the next start line).
func TestRead_TCPHole(t *testing.T) {
	toUAS, toUAC := sippMessages(t)
	a := &stream{src: uac, dst: uas, isn: 1000}
	b := &stream{src: uas, dst: uac, isn: 5000}
	var starts []int
	for _, m := range toUAS {
		starts = append(starts, len(a.data))
		a.data = append(a.data, m...)
	}
	for _, m := range toUAC {
		b.data = append(b.data, m...)
	}
	// Drop 100 bytes from the middle of message 4 (0-based 3).
	hole := starts[3] + 50
	order := []seg{{a, 0, hole}, {a, hole + 100, len(a.data) - hole - 100}, {b, 0, len(b.data)}}
	got, st, err := readAll(t, tcpCapture(t, a, b, order))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Delete(slices.Clone(toUAS), 3, 4)
	if g := raws(got, uac); !equalMessages(g, want) {
		t.Fatalf("unexpected messages around the hole; got %d; want %d (skipped %v)", len(g), len(want), st.Skipped)
	}
	if g := raws(got, uas); !equalMessages(g, toUAC) {
		t.Fatalf("unexpected messages of the other direction; got %d; want %d", len(g), len(toUAC))
	}
	if st.Skipped[capture.ReasonTCPGap] != 1 {
		t.Fatalf("unexpected gap count; got %d; want 1 (skipped %v)", st.Skipped[capture.ReasonTCPGap], st.Skipped)
	}
}

// TestRead_TCPUnfinished: a capture that stops in the middle of a message.
func TestRead_TCPUnfinished(t *testing.T) {
	toUAS, _ := sippMessages(t)
	a := &stream{src: uac, dst: uas, isn: 1}
	b := &stream{src: uas, dst: uac, isn: 1}
	a.data = slices.Concat(toUAS[0], toUAS[1][:100])
	got, st, err := readAll(t, tcpCapture(t, a, b, []seg{{a, 0, len(a.data)}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || st.Skipped[capture.ReasonTCPUnfinished] != 1 {
		t.Fatalf("unexpected result; got %d messages, skipped %v; want 1 and one unfinished", len(got), st.Skipped)
	}
}

// TestRead_TCPNotSIP: a stream of another protocol is skipped, segment by
// segment, and does not hold memory.
func TestRead_TCPNotSIP(t *testing.T) {
	a := &stream{src: uac, dst: uas, isn: 1}
	b := &stream{src: uas, dst: uac, isn: 1}
	a.data = []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\nGET /again HTTP/1.1\r\nHost: example.com\r\n\r\n")
	got, st, err := readAll(t, tcpCapture(t, a, b, []seg{{a, 0, 20}, {a, 20, len(a.data) - 20}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || st.Skipped[capture.ReasonNotSIP] != 2 || st.Skipped[capture.ReasonTCPUnfinished] != 0 {
		t.Fatalf("unexpected result; got %d messages, skipped %v; want 0 and 2 not_sip", len(got), st.Skipped)
	}
}

// TestRead_HEPOverTCP: HEPv3 frames in a TCP stream, split anywhere, framed by
// their length field.
func TestRead_HEPOverTCP(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)[:40]
	agent := &stream{src: netip.MustParseAddrPort("127.0.0.1:40000"), dst: netip.MustParseAddrPort("127.0.0.1:9060"), isn: 77}
	col := &stream{src: agent.dst, dst: agent.src, isn: 1}
	for _, r := range recs {
		agent.data = append(agent.data, r.Datagram...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	got, st, err := readAll(t, tcpCapture(t, agent, col, segments(rng, agent, 900)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) || st.FromHEP != uint64(len(recs)) {
		t.Fatalf("unexpected HEP messages; got %d (%d HEP); want %d (skipped %v)", len(got), st.FromHEP, len(recs), st.Skipped)
	}
	var hp hep.Packet
	var dec hep.Decoder
	for i, p := range got {
		if err := dec.Decode(recs[i].Datagram, &hp); err != nil {
			t.Fatal(err)
		}
		if !p.CapturedAt.Equal(hp.Time()) || string(p.Raw) != string(hp.Payload) || p.HEPVersion != 3 {
			t.Fatalf("message %d: unexpected packet %s v%d", i, p.CapturedAt, p.HEPVersion)
		}
	}
}
