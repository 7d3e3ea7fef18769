package capture_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
)

func TestRead_PlainSIP(t *testing.T) {
	f := func(file string, wantTCP int) {
		t.Helper()
		got, st, err := readAll(t, readFixture(t, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		checkAgainstTSV(t, got, fixture.LoadTSV(t, file))
		tcp := 0
		for _, p := range got {
			if p.Transport == hepvault.TransportTCP {
				tcp++
			}
			if p.Kind == hepvault.KindInvalid {
				t.Errorf("%s: unexpected invalid message: %s", file, p.InvalidReason)
			}
		}
		if tcp != wantTCP {
			t.Errorf("%s: unexpected TCP messages; got %d; want %d", file, tcp, wantTCP)
		}
		for _, r := range []capture.Reason{capture.ReasonTCPGap, capture.ReasonTCPUnfinished, capture.ReasonNotSIP, capture.ReasonTruncated, capture.ReasonMalformed} {
			if st.Skipped[r] != 0 {
				t.Errorf("%s: unexpected %s count %d", file, r, st.Skipped[r])
			}
		}
		if st.Messages != uint64(len(got)) || st.FromHEP != 0 {
			t.Errorf("%s: unexpected stats %+v", file, st)
		}
	}
	t.Run(fixture.SIPPcap, func(t *testing.T) { f(fixture.SIPPcap, 21) })
	t.Run(fixture.SIPPTCPPcap, func(t *testing.T) { f(fixture.SIPPTCPPcap, 30) })
	t.Run(fixture.SIPPAnyPcap, func(t *testing.T) { f(fixture.SIPPAnyPcap, 0) })
	t.Run(fixture.NgrepPcap, func(t *testing.T) { f(fixture.NgrepPcap, 0) })
}

func TestRead_HEP(t *testing.T) {
	f := func(name string) {
		t.Helper()
		recs := fixture.Load(t, name)
		got, st, err := readAll(t, readFixture(t, name+".pcap"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) || st.FromHEP != uint64(len(recs)) {
			t.Fatalf("unexpected message count; got %d (%d from HEP); want %d", len(got), st.FromHEP, len(recs))
		}
		for i, r := range recs {
			p, w := got[i], r.Truth
			wantTime := time.Unix(int64(w.TsSec), int64(w.TsUsec)*1000).UTC()
			if !p.CapturedAt.Equal(wantTime) {
				t.Errorf("frame %d: unexpected capture time; got %s; want the HEP time %s", w.Frame, p.CapturedAt, wantTime)
			}
			if int(p.HEPVersion) != w.HEPVersion || p.CaptureID != w.CaptureID || int(p.Transport) != w.IPProto {
				t.Errorf("frame %d: unexpected envelope; got v%d id %d %s", w.Frame, p.HEPVersion, p.CaptureID, p.Transport)
			}
			if p.SrcIP != netip.MustParseAddr(w.SrcIP) || p.SrcPort != w.SrcPort || p.DstIP != netip.MustParseAddr(w.DstIP) || p.DstPort != w.DstPort {
				t.Errorf("frame %d: unexpected addresses; got %s:%d > %s:%d", w.Frame, p.SrcIP, p.SrcPort, p.DstIP, p.DstPort)
			}
			if p.Kind.String() != w.SIPType || p.Method != w.Method || p.StatusCode != w.StatusCode ||
				p.CSeq != w.CSeqNum || p.CSeqMethod != w.CSeqMethod || p.CallID != w.CallID {
				t.Errorf("frame %d: unexpected SIP; got %s cseq %d %s call %s; want %s %s %d cseq %d %s call %s", w.Frame,
					p.Summary(), p.CSeq, p.CSeqMethod, p.CallID, w.SIPType, w.Method, w.StatusCode, w.CSeqNum, w.CSeqMethod, w.CallID)
			}
			if string(p.Raw) != string(r.SIP()) {
				t.Errorf("frame %d: raw payload differs from the HEP payload", w.Frame)
			}
		}
	}
	t.Run(fixture.HEP3, func(t *testing.T) { f(fixture.HEP3) })
	t.Run(fixture.HEP2, func(t *testing.T) { f(fixture.HEP2) })
}
