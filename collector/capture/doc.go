// Package capture reads capture files (pcap, pcapng, either gzipped) of
// SIP traffic and turns them into Packets, for `hepvault import`. It sits
// beside the listeners: file → link layer → IPv4/IPv6 → UDP/TCP → HEP or
// plain SIP → collector.Build → the caller's function. It does no I/O but
// reading the file it is given, and knows nothing of storage.
//
// A UDP datagram or TCP stream that holds HEP (v1, v2, v3) is decoded as the
// collector decodes it: the Packet's capture time is the HEP time. (HEPv1
// and v2 are told only by their first byte, so there the payload must start
// like SIP too: other UDP traffic can pass for them.) Anything
// else that starts with a SIP start line is plain SIP captured on the wire:
// its capture time is the time the capture file gives the packet, its
// addresses those of the IP and UDP/TCP headers, its HEP version 0 and its
// capture id 0. TCP streams are put back together in sequence-number order
// and cut into messages at the end of the headers plus Content-Length.
//
// Every packet that gives no Packet is counted in Stats with its Reason.
// Packet ids are derived from the packet's content (see idGen), so reading
// the same file twice gives the same ids.
package capture
