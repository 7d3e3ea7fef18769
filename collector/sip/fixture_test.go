package sip

import (
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
)

// TestParse_Fixtures checks every SIP message Kamailio mirrored in the
// captures against tshark's reading of it.
func TestParse_Fixtures(t *testing.T) {
	for _, name := range []string{fixture.HEP3, fixture.HEP2} {
		t.Run(name, func(t *testing.T) {
			var m Message
			for _, r := range fixture.Load(t, name) {
				tr := r.Truth
				if err := Parse(r.SIP(), &m); err != nil {
					t.Errorf("frame %d: unexpected error: %v", tr.Frame, err)
					continue
				}
				str := func(field string, got []byte, want string) {
					t.Helper()
					if string(got) != want {
						t.Errorf("frame %d: unexpected %s; got %q; want %q", tr.Frame, field, got, want)
					}
				}
				ptr := func(s *string) string {
					if s == nil {
						return ""
					}
					return *s
				}
				if got := m.Kind.String(); got != tr.SIPType {
					t.Errorf("frame %d: unexpected kind; got %s; want %s", tr.Frame, got, tr.SIPType)
				}
				str("method", m.Method, tr.Method)
				str("request URI", m.RequestURI, tr.RURI)
				if m.StatusCode != tr.StatusCode {
					t.Errorf("frame %d: unexpected status code; got %d; want %d", tr.Frame, m.StatusCode, tr.StatusCode)
				}
				str("reason", m.Reason, tr.Reason)
				if m.CSeqNum != tr.CSeqNum {
					t.Errorf("frame %d: unexpected CSeq number; got %d; want %d", tr.Frame, m.CSeqNum, tr.CSeqNum)
				}
				str("CSeq method", m.CSeqMethod, tr.CSeqMethod)
				str("Call-ID", m.CallID, tr.CallID)
				str("From tag", m.FromTag, ptr(tr.FromTag))
				str("To tag", m.ToTag, ptr(tr.ToTag))

				// No truth for these, but every message of the captures has them.
				str("version", m.Version, "SIP/2.0")
				for field, b := range map[string][]byte{"From URI": m.FromURI, "To URI": m.ToURI, "Via branch": m.ViaBranch} {
					if len(b) == 0 {
						t.Errorf("frame %d: empty %s", tr.Frame, field)
					}
				}
				if m.ContentLength != len(m.Body) {
					t.Errorf("frame %d: unexpected body length; got %d; want Content-Length %d", tr.Frame, len(m.Body), m.ContentLength)
				}
				if m.Kind == hepvault.KindResponse && m.Class() != hepvault.StatusClass(tr.StatusCode/100) {
					t.Errorf("frame %d: unexpected class %v", tr.Frame, m.Class())
				}
			}
		})
	}
}

// TestParse_FixturesAllocs holds Parse to its promise of no allocation.
func TestParse_FixturesAllocs(t *testing.T) {
	var msgs [][]byte
	for _, name := range []string{fixture.HEP3, fixture.HEP2} {
		for _, r := range fixture.Load(t, name) {
			msgs = append(msgs, r.SIP())
		}
	}
	var m Message
	allocs := testing.AllocsPerRun(10, func() {
		for _, b := range msgs {
			if err := Parse(b, &m); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("unexpected allocations for %d messages; got %v; want 0", len(msgs), allocs)
	}
}
