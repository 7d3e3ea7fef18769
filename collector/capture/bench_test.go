package capture_test

import (
	"bytes"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
)

// BenchmarkRead reads sip.pcap (UDP and TCP, 351 records, 330 messages)
// from memory: the cost of import before the database.
func BenchmarkRead(b *testing.B) {
	for _, name := range []string{fixture.SIPPcap, fixture.HEP3 + ".pcap"} {
		b.Run(name, func(b *testing.B) {
			data := readFixture(b, name)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var msgs uint64
			for b.Loop() {
				st, err := capture.Read(bytes.NewReader(data), capture.Config{}, func(hepvault.Packet) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				msgs += st.Messages
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
		})
	}
}
