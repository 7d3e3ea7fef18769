package sip_test

import (
	"fmt"

	"github.com/hepvault/hepvault/collector/sip"
)

func ExampleParse() {
	payload := []byte("SIP/2.0 180 Ringing\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-16579-1-0\r\n" +
		"From: sipp <sip:sipp@127.0.0.1:5090>;tag=16579SIPpTag001\r\n" +
		"To: service <sip:service@127.0.0.1:5060>;tag=16560SIPpTag011\r\n" +
		"Call-ID: 1-16579@127.0.0.1\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Server: kamailio\r\n" +
		"Content-Length: 0\r\n\r\n")

	var m sip.Message // reuse it: Parse resets it
	if err := sip.Parse(payload, &m); err != nil {
		fmt.Println(m.Summary())
		return
	}
	fmt.Println(m.Summary())
	fmt.Printf("%s %d %s\n", m.CallID, m.CSeqNum, m.CSeqMethod)
	fmt.Printf("from %s tag %s\n", m.FromURI, m.FromTag)
	fmt.Printf("to %s tag %s\n", m.ToURI, m.ToTag)
	fmt.Printf("branch %s, agent %s, %v\n", m.ViaBranch, m.UserAgent, sip.MethodOf(m.CSeqMethod) == sip.MethodInvite)

	_ = sip.Parse([]byte("SIP/2.0 20x OK\r\n\r\n"), &m)
	fmt.Println(m.Summary())
	// Output:
	// response 180 Ringing (1xx Informational)
	// 1-16579@127.0.0.1 1 INVITE
	// from sip:sipp@127.0.0.1:5090 tag 16579SIPpTag001
	// to sip:service@127.0.0.1:5060 tag 16560SIPpTag011
	// branch z9hG4bK-16579-1-0, agent kamailio, true
	// invalid: bad start line: status code "20x OK" is not 3 digits
}

func ExampleURIUser() {
	for _, uri := range []string{
		"sip:alice@example.com",
		"sips:bob:secret@example.com;transport=tls",
		"sip:%2B4930774152@example.com;user=phone",
		"tel:7741528;phone-context=+49-30",
		"sip:example.com",
	} {
		fmt.Printf("%q\n", sip.URIUser([]byte(uri)))
	}
	// Output:
	// "alice"
	// "bob"
	// "+4930774152"
	// "7741528"
	// ""
}
