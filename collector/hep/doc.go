// Package hep decodes HEP (Homer Encapsulation Protocol) packets, versions 1,
// 2 and 3, as sent by Kamailio's siptrace module, sngrep and other capture
// agents.
//
// It sits at the front of the collector pipeline:
//
//	socket → hep.Decode → sip.Parse + Classify → hepvault.Packet → store
//
// A UDP datagram is one HEP packet and goes straight to [Decoder.Decode]. A
// TCP connection carries HEPv3 packets back to back; [Framer] cuts that
// stream into packets by the HEPv3 total length field.
//
// The package is pure: no I/O except the Framer's io.Reader, no goroutines,
// no logging. Errors wrap one of the exported sentinels so the caller can
// count them with errors.Is. Decoding reuses the caller's [Packet] and the
// Decoder's buffers and does not allocate for uncompressed packets.
//
// References: the HEP3 Network Protocol Specification (sipcapture/HEP,
// "HEP3 Network Protocol Specification", the chunk ids cited in the code as
// 0x0001…0x0013), Kamailio's sipcapture hep.h/hep.c for HEPv1/v2, and the
// project's notes in shared/HEP.md.
package hep
