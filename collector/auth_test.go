package collector

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/internal/fixture"
)

// handleOne runs one datagram through the decode path of a collector that
// requires key, and says whether it was queued or dropped for auth.
func handleOne(t *testing.T, key string, datagram []byte) (queued, authDropped bool) {
	t.Helper()
	c := New(Config{QueueSize: 4, AuthKey: []byte(key)})
	w := &worker{c: c}
	w.handle(datagram, time.Now())
	m := c.Metrics()
	if m.Queued.Load()+m.DroppedTotal() != 1 {
		t.Fatalf("unexpected counters; queued %d, dropped %d; want one of them 1", m.Queued.Load(), m.DroppedTotal())
	}
	return m.Queued.Load() == 1, m.Dropped(ReasonAuth) == 1
}

// v3WithKey is a Kamailio-like HEPv3 packet carrying key (none when empty).
func v3WithKey(key string) []byte {
	p := hep.Packet{
		Family: hep.FamilyIPv4, Proto: 17, ProtoType: hep.ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("127.0.0.1"), DstIP: netip.MustParseAddr("127.0.0.1"), SrcPort: 5060, DstPort: 5070,
		TsSec: 1795609948, CaptureID: 4242, AuthKey: []byte(key),
		Payload: []byte("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" +
			"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: auth-test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
	}
	return hep.AppendV3(nil, &p)
}

func TestAuthKey_Success(t *testing.T) {
	f := func(name, key string, datagram []byte) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			if queued, _ := handleOne(t, key, datagram); !queued {
				t.Fatalf("unexpected drop; want packet queued under key %q", key)
			}
		})
	}
	hep3 := fixture.Load(t, fixture.HEP3)
	hep2 := fixture.Load(t, fixture.HEP2)
	f("no key required, kamailio v3 with key", "", hep3[0].Datagram)
	f("no key required, v3 without key", "", v3WithKey(""))
	f("no key required, kamailio v2", "", hep2[0].Datagram)
	f("right key, kamailio v3", hep3[0].Truth.AuthKey, hep3[0].Datagram)
	f("right key, encoded v3", "s3cret", v3WithKey("s3cret"))
}

func TestAuthKey_Failure(t *testing.T) {
	f := func(name, key string, datagram []byte) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			if _, auth := handleOne(t, key, datagram); !auth {
				t.Fatalf("unexpected outcome; want packet dropped with reason auth under key %q", key)
			}
		})
	}
	hep3 := fixture.Load(t, fixture.HEP3)
	hep2 := fixture.Load(t, fixture.HEP2)
	f("kamailio v3 with another key", "not-the-fixture-key", hep3[0].Datagram)
	f("v3 without key", "s3cret", v3WithKey(""))
	f("v3 key is a prefix", "s3cret", v3WithKey("s3cre"))
	f("v3 key is longer", "s3cret", v3WithKey("s3cret!"))
	f("v3 key differs in case", "s3cret", v3WithKey("S3cret"))
	f("kamailio v2 has no key", hep3[0].Truth.AuthKey, hep2[0].Datagram)
}
