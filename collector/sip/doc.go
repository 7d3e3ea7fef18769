// Package sip reads the SIP messages that capture agents mirror to hepvault:
// the start line, the few headers hepvault stores, and the body boundary.
//
// It sits in the collector between the HEP decoder and the store:
//
//	socket → hep.Decode → sip.Parse → hepvault.Packet → queue → store
//
// Parse takes the payload bytes of one HEP packet and fills a reusable
// Message whose fields alias those bytes; it does no I/O, starts no
// goroutines and logs nothing. Parse also classifies the message: Kind is a
// request, a response, or invalid with the reason in Err.
//
// What is parsed follows RFC 3261: the message format of §7 (start line,
// header fields, empty line, body), the compact header names of §7.3.3 and
// the grammar of §25. Only the hot headers are looked into, through a table
// keyed by lower-cased name and compact form (Call-ID/i, CSeq, From/f, To/t,
// Via/v, Contact/m, User-Agent, Server, Content-Type/c, Content-Length/l,
// and P-Asserted-Identity of RFC 3325, and the correlating headers X-CID and
// X-Call-ID, which link the legs of a call through a B2BUA; ParseWith takes
// more of those, or a parameter of one, P-Charging-Vector's icid-value of
// RFC 7315); every other header is only checked to be a "name: value" line. URIUser gives the user part of the URIs read
// (From, To, Request-URI, P-Asserted-Identity): for a tel: URI its number.
//
// Parse checks the framing strictly enough to tell a SIP message from
// anything else, and is lenient where real stacks are and where nothing is
// ambiguous:
//
//   - CRLF before the start line is skipped (§7.5); a buffer of only CRLF is
//     a keepalive and reported as ErrEmpty.
//   - Lines may end in a bare LF instead of CRLF. Nothing records it: the raw
//     payload is stored byte for byte and shows it.
//   - The start line is strict (§7.1, §7.2): single spaces, no trailing
//     whitespace, a Request-URI with a scheme and no '<', '>', '"', space or
//     control character, version SIP/2.0 only (case-insensitive, §7.1; no
//     other version exists in use), a status code of exactly three digits in
//     100–699. The one leniency: a status line may end right after its code,
//     without the space before an empty Reason-Phrase.
//   - Headers may have whitespace before the colon (HCOLON, §25.1) and may
//     be folded over several lines (§7.3.1). From, To, P-Asserted-Identity,
//     Via and CSeq are read across the folds. A value kept as is (Call-ID,
//     Contact, User-Agent, Server, Content-Type) that is folded inside is
//     joined, one space per fold, into a scratch buffer the Message keeps:
//     the only case where a field does not alias the input.
//   - A message that ends right after a complete header line, with no empty
//     line, is accepted with an empty body: agents that mirror messages
//     sometimes drop the final CRLF. A last line without its line end is
//     ErrTruncated.
//   - Header values are not validated: a malformed value of a stored header
//     leaves its field empty (ContentLength -1), and bytes that are not UTF-8
//     are kept as they are. A Content-Length larger than the body is recorded,
//     not an error; a smaller one cuts the body (trailing octets of a UDP
//     datagram are not part of the message, §18.3).
//   - When a stored header appears more than once, the first one wins; Via is
//     the topmost value (§20.42), P-Asserted-Identity the first of the values
//     a line may list.
package sip
