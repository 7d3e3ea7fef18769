package capture_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
)

// FuzzRead feeds damaged captures to Read: it must not panic, must return
// nil or an error wrapping ErrFormat or ErrCorrupt, and every Packet it
// gives must carry a payload.
func FuzzRead(f *testing.F) {
	recs := readRecs(f, readFixture(f, fixture.SIPPcap))
	f.Add(writePcap(f, layers.LinkTypeEthernet, recs[:6]))
	f.Add(writePcap(f, layers.LinkTypeEthernet, recs[290:300])) // TCP
	f.Add(writePcapNG(f, layers.LinkTypeLinuxSLL, rewrap(f, recs[:4], func([]byte) []byte {
		return append(make([]byte, 14), 0x08, 0x00)
	})))
	f.Add(readFixture(f, fixture.HEP2+".pcap")[:4000])
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := capture.Read(bytes.NewReader(data), capture.Config{}, func(p hepvault.Packet) error {
			if len(p.Raw) == 0 || p.ID <= 0 {
				t.Fatalf("packet without payload or with id %d: %s", p.ID, p.Summary())
			}
			return nil
		})
		if err != nil && !errors.Is(err, capture.ErrFormat) && !errors.Is(err, capture.ErrCorrupt) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
