// Package siprec reads the SIP session recording (SIPREC, RFC 7866)
// messages a session recording client (SRC) sends its recording server
// (SRS): it tells a recording-session request from any other (Require:
// siprec, a +sip.src Contact, or an application/rs-metadata+xml part) and
// parses the recording metadata of RFC 7865 in its body.
//
// It sits beside collector/sip, under the store's writer:
//
//	Packet.Raw → siprec.Read → store: recording_messages, written with the packet's block
//
// The store reads each recording-session INVITE, re-INVITE and UPDATE once,
// as it writes the packet; a query reads the parsed metadata back and
// applies the partial updates in order (State.Apply), never the raw body.
// Read takes the bytes of one SIP message and returns what they say; it
// does no I/O and logs nothing. Bad metadata is an error wrapping one of
// the sentinels (ErrMultipart, ErrXML, ErrNotMetadata): the packet is
// stored all the same, and the reason with it.
package siprec
