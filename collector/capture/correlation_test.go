package capture_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
)

// The legs capture holds each message twice, on the wire and in HEP: an
// import reads X-CID from both as tshark reads it, and a header named in
// Config.CorrelationHeaders (Max-Forwards here, which every request has)
// where no X-CID comes first.
func TestRead_CorrelationHeaders(t *testing.T) {
	xcid := map[string]string{} // Call-ID -> X-CID of its INVITE
	for _, m := range fixture.LoadTSV(t, fixture.LegsPcap) {
		if m.XCID != "" {
			xcid[m.CallID] = m.XCID
		}
	}
	read := func(hs []sip.CorrelationHeader) []hepvault.Packet {
		var got []hepvault.Packet
		if _, err := capture.Read(bytes.NewReader(readFixture(t, fixture.LegsPcap)), capture.Config{CorrelationHeaders: hs},
			func(p hepvault.Packet) error { got = append(got, p); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 52 {
			t.Fatalf("unexpected messages read; got %d; want 52 (26 on the wire, 26 in HEP)", len(got))
		}
		return got
	}
	seen := 0
	for _, p := range read(nil) {
		want := ""
		if p.Method == "INVITE" {
			want = xcid[p.CallID]
		}
		if p.CorrelationHeader != want {
			t.Fatalf("%s %s: unexpected correlation header %q; want %q", p.CallID, p.Summary(), p.CorrelationHeader, want)
		}
		if want != "" {
			seen++
		}
	}
	if seen != 4 {
		t.Fatalf("unexpected INVITEs with X-CID; got %d; want 4", seen)
	}
	for _, p := range read([]sip.CorrelationHeader{{Name: "max-forwards"}}) {
		if p.Kind != hepvault.KindRequest || p.Method == "INVITE" && xcid[p.CallID] != "" {
			continue
		}
		if n, err := strconv.Atoi(p.CorrelationHeader); err != nil || n <= 0 || n > 70 {
			t.Fatalf("%s %s: unexpected correlation header %q; want its Max-Forwards", p.CallID, p.Summary(), p.CorrelationHeader)
		}
	}
}
