package capture_test

import (
	"fmt"
	"os"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
)

// Read a trainee's capture of plain SIP (UDP and TCP, as tcpdump saves it)
// and print the first messages with their classification.
func ExampleRead() {
	f, err := os.Open("../../testdata/sip.pcap")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	n := 0
	st, err := capture.Read(f, capture.Config{}, func(p hepvault.Packet) error {
		if n++; n <= 3 {
			fmt.Printf("%s %s %s:%d -> %s:%d %s\n", p.CapturedAt.Format("15:04:05.000000"), p.Transport,
				p.SrcIP, p.SrcPort, p.DstIP, p.DstPort, p.Summary())
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d records, %d SIP messages, %d skipped (%d %s)\n", st.Records, st.Messages,
		st.SkippedTotal(), st.Skipped[capture.ReasonNoPayload], capture.ReasonNoPayload)
	// Output:
	// 12:31:47.746491 udp 127.0.0.1:5090 -> 127.0.0.1:5060 request REGISTER
	// 12:31:47.747427 udp 127.0.0.1:5060 -> 127.0.0.1:5090 response 200 OK (2xx Success)
	// 12:31:47.946728 udp 127.0.0.1:5090 -> 127.0.0.1:5060 request REGISTER
	// 351 records, 330 SIP messages, 21 skipped (21 no_payload)
}
