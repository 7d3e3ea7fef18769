package spool

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
)

// fullPacket sets every field of hepvault.Packet to a value other than its
// zero value; TestAppendBatch_EveryField keeps it that way.
func fullPacket() hepvault.Packet {
	return hepvault.Packet{
		ID:         1795609948250000123,
		CapturedAt: time.Date(2026, 11, 25, 12, 20, 33, 123456000, time.UTC),
		ReceivedAt: time.Date(2026, 11, 25, 12, 20, 33, 987654321, time.UTC),
		CaptureID:  0xfffffffe, HEPVersion: 3, ProtoType: 1, CorrelationID: "corr-1",
		SrcIP: netip.MustParseAddr("192.0.2.10"), SrcPort: 5060,
		DstIP: netip.MustParseAddr("2001:db8::1"), DstPort: 65535,
		Transport: hepvault.TransportTCP, Kind: hepvault.KindResponse, InvalidReason: "not really",
		Method: "INVITE", RequestURI: "sip:bob@example.com", StatusCode: 486, Reason: "Busy Here",
		CallID: "a84b4c76e66710@pc33", CSeq: 4294967295, CSeqMethod: "INVITE",
		FromURI: "sip:alice@example.com", FromTag: "1928301774", ToURI: "sip:bob@example.com", ToTag: "a6c85cf",
		ViaBranch: "z9hG4bK776asdhds", UserAgent: "Kamailio (5.6)", Contact: "<sip:alice@192.0.2.10>",
		ContentType:    "application/sdp",
		Raw:            []byte("SIP/2.0 486 Busy Here\r\n\x00\xff\xfe binary \x80\r\n\r\n"),
		HeadersFromRaw: true,
	}
}

func TestAppendBatch_EveryField(t *testing.T) {
	p := reflect.ValueOf(fullPacket())
	for i := range p.NumField() {
		if p.Field(i).IsZero() {
			t.Fatalf("fullPacket leaves %s zero: set it so the round trip covers it", p.Type().Field(i).Name)
		}
	}
}

func TestAppendBatch_RoundTrip(t *testing.T) {
	full := fullPacket()
	v6 := full
	v6.SrcIP = netip.MustParseAddr("fe80::1%eth0")
	v6.DstIP = netip.MustParseAddr("::ffff:192.0.2.1") // IPv4-mapped stays IPv6
	v6.StatusCode = -1
	v6.ID = -5
	zero := hepvault.Packet{} // zero times, no addresses, no payload
	onlyTimes := hepvault.Packet{CapturedAt: time.Unix(0, 0).UTC(), ReceivedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}
	f := func(name string, pkts []hepvault.Packet) {
		t.Helper()
		enc := AppendBatch([]byte("prefix"), pkts)
		if !bytes.HasPrefix(enc, []byte("prefix")) {
			t.Fatalf("%s: AppendBatch did not append", name)
		}
		got, err := DecodeBatch(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("%s: unexpected error: %v", name, err)
		}
		if len(pkts) == 0 && len(got) == 0 {
			return
		}
		if !reflect.DeepEqual(got, pkts) {
			t.Fatalf("%s: unexpected round trip;\ngot  %+v\nwant %+v", name, got, pkts)
		}
	}
	f("empty batch", nil)
	f("full", []hepvault.Packet{full})
	f("ipv6", []hepvault.Packet{v6})
	f("zero", []hepvault.Packet{zero})
	f("only times", []hepvault.Packet{onlyTimes})
	f("mixed", []hepvault.Packet{full, zero, v6, onlyTimes, full})
}

func TestDecodeBatch_RawDoesNotOverlap(t *testing.T) {
	a, b := fullPacket(), fullPacket()
	b.Raw = []byte("second")
	got, err := DecodeBatch(AppendBatch(nil, []hepvault.Packet{a, b}))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got[0].Raw, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
	if got[1].CallID != b.CallID || string(got[1].Raw) != "second" {
		t.Fatalf("appending to one packet's Raw changed the next packet: %+v", got[1])
	}
}

func TestDecodeBatch_Failure(t *testing.T) {
	enc := AppendBatch(nil, []hepvault.Packet{fullPacket(), fullPacket()})
	// Every cut of a valid encoding is an error, never a panic or a
	// shorter batch taken for whole.
	for n := range len(enc) {
		if _, err := DecodeBatch(enc[:n]); err == nil {
			t.Fatalf("unexpected success decoding the first %d of %d bytes", n, len(enc))
		}
	}
	f := func(name string, buf []byte) {
		t.Helper()
		if _, err := DecodeBatch(buf); err == nil {
			t.Fatalf("%s: unexpected success", name)
		}
	}
	f("trailing bytes", append(append([]byte(nil), enc...), 0))
	f("huge count", []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	bad := AppendBatch(nil, []hepvault.Packet{{}})
	bad[1+1+1+1+1+1+1+1] = 7 // SrcIP length byte of the zero packet: only 0, 4, 16 exist
	f("bad address length", bad)
}
