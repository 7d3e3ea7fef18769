package hep_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/hepvault/hepvault/collector/hep"
)

func ExampleDecoder_Decode() {
	// A datagram as an agent would send it (built here with AppendV3).
	datagram := hep.AppendV3(nil, &hep.Packet{
		Family: hep.FamilyIPv4, Proto: 17, ProtoType: hep.ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("192.0.2.10"), SrcPort: 5060,
		DstIP: netip.MustParseAddr("192.0.2.20"), DstPort: 5060,
		TsSec: 1795609907, TsUsec: 746644, CaptureID: 4242,
		Payload: []byte("OPTIONS sip:bob@example.com SIP/2.0\r\n\r\n"),
	})

	// One Decoder and one Packet per reader goroutine, reused for every
	// datagram.
	var d hep.Decoder
	var p hep.Packet
	if err := d.Decode(datagram, &p); err != nil {
		if errors.Is(err, hep.ErrNoPayload) {
			return // count it: a keep-alive or an empty capture
		}
		fmt.Println("drop:", err)
		return
	}
	fmt.Printf("HEPv%d %s:%d -> %s:%d at %s\n", p.Version, p.SrcIP, p.SrcPort, p.DstIP, p.DstPort,
		p.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	fmt.Printf("capture id %d, %d bytes: %.7s\n", p.CaptureID, len(p.Payload), p.Payload)

	err := d.Decode(datagram[:len(datagram)-1], &p)
	fmt.Println(errors.Is(err, hep.ErrBadLength), err)
	// Output:
	// HEPv3 192.0.2.10:5060 -> 192.0.2.20:5060 at 2026-11-25T12:31:47.746644Z
	// capture id 4242, 39 bytes: OPTIONS
	// true hep: bad packet length: total length 138, datagram 137 bytes
}

func ExampleFramer() {
	var stream []byte
	for i := range 3 {
		stream = hep.AppendV3(stream, &hep.Packet{SrcPort: uint16(5060 + i), Payload: []byte("SIP")})
	}
	stream = append(stream, "HEP3"...) // the connection drops mid-frame

	fr := hep.NewFramer(bytes.NewReader(stream), 0)
	var d hep.Decoder
	var p hep.Packet
	for {
		frame, err := fr.Next()
		if err != nil {
			fmt.Println(err, fr.Buffered())
			break
		}
		if err := d.Decode(frame, &p); err == nil {
			fmt.Println(p.SrcPort)
		}
	}
	// Output:
	// 5060
	// 5061
	// 5062
	// hep: stream ended mid-frame: unexpected EOF: 4 of 6 bytes 4
}
