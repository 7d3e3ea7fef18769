package collector

import (
	"bytes"
	"net"
	"testing"

	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
)

// The listeners read X-CID always and the headers of
// Config.CorrelationHeaders beside it: the real Kamailio INVITE of the legs
// capture (X-CID), and the same INVITE with its X-CID line renamed to a
// header the operator named.
func TestCollector_CorrelationHeaders(t *testing.T) {
	var invite hep.Packet
	var dec hep.Decoder
	for _, d := range fixture.HEP(t, fixture.LegsPcap) {
		if err := dec.Decode(d, &invite); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(invite.Payload, []byte("\r\nX-CID: ")) {
			break
		}
	}
	xcid := invite.Payload
	if !bytes.Contains(xcid, []byte("\r\nX-CID: ")) {
		t.Fatal("no INVITE with X-CID in the legs capture")
	}
	named := bytes.Replace(xcid, []byte("\r\nX-CID: "), []byte("\r\nX-Leg-Of: "), 1)
	want := string(bytes.SplitN(bytes.SplitN(xcid, []byte("\r\nX-CID: "), 2)[1], []byte("\r\n"), 2)[0])

	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", UDPReaders: 1, QueueSize: 16,
		CorrelationHeaders: []sip.CorrelationHeader{{Name: "x-leg-of"}}})
	conn, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, payload := range [][]byte{xcid, named, bytes.Replace(xcid, []byte("\r\nX-CID: "), []byte("\r\nX-Other: "), 1)} {
		hp := invite
		hp.Payload = payload
		if _, err := conn.Write(hep.AppendV3(nil, &hp)); err != nil {
			t.Fatal(err)
		}
	}
	got := drain(t, c, 3)
	for i, w := range []string{want, want, ""} {
		if got[i].CorrelationHeader != w {
			t.Fatalf("packet %d: unexpected correlation header %q; want %q", i, got[i].CorrelationHeader, w)
		}
	}
}
