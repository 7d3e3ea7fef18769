// Package badinput is a table of malformed HEP datagrams and what hepvault
// must do with each: refuse it with a counted reason, or store it as kind
// invalid with its payload byte for byte. The collector's tests check each
// case alone; the end-to-end test sends them all and reads the database.
package badinput

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"strings"
)

// Case is one malformed input and its expected outcome.
type Case struct {
	Name string
	HEP  []byte // the datagram (or TCP frame) as sent
	// Reason is the drop reason (collector.Reason.String()) when the packet
	// is refused; "" when it is stored.
	Reason string
	// Invalid, for a stored packet, is text its invalid reason must hold
	// ("sip: bad header"); "" means it is stored as a valid request or response.
	Invalid string
	// Raw is the payload that must be stored, byte for byte.
	Raw []byte
	// CaptureID tells the stored cases apart in the database.
	CaptureID uint32
}

// Stored reports whether the case is kept (as invalid or not) rather than refused.
func (c Case) Stored() bool { return c.Reason == "" }

// HEPv3 chunk types used below (HEP3 chunk table, vendor 0).
const (
	ckFamily, ckProto, ckSrc4, ckDst4, ckSrc6, ckDst6 = 0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006
	ckSrcPort, ckDstPort, ckTsSec, ckTsUsec           = 0x0007, 0x0008, 0x0009, 0x000a
	ckProtoType, ckCaptureID, ckPayload, ckCompressed = 0x000b, 0x000c, 0x000f, 0x0010
)

// chunk encodes vendor 0 · typ · 6+len(data) · data.
func chunk(typ uint16, data ...byte) []byte { return chunkLen(typ, 6+len(data), data) }

// chunkLen is chunk with the length field set to n, true or not.
func chunkLen(typ uint16, n int, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, 0)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, data...)
}

func u16(typ uint16, v uint16) []byte { return chunk(typ, binary.BigEndian.AppendUint16(nil, v)...) }
func u32(typ uint16, v uint32) []byte { return chunk(typ, binary.BigEndian.AppendUint32(nil, v)...) }

// envelope is the chunks before the payload, as Kamailio sends them.
func envelope(captureID uint32, protoType byte) [][]byte {
	return [][]byte{
		chunk(ckFamily, 2), chunk(ckProto, 17), chunk(ckSrc4, 192, 0, 2, 1), chunk(ckDst4, 192, 0, 2, 2),
		u16(ckSrcPort, 5060), u16(ckDstPort, 5060), u32(ckTsSec, 1795609233), u32(ckTsUsec, captureID),
		chunk(ckProtoType, protoType), u32(ckCaptureID, captureID),
	}
}

// v3 joins chunks under a "HEP3" header with the true total length.
func v3(chunks ...[]byte) []byte {
	b := v3Len(0, chunks...)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
	return b
}

// v3Len is v3 with the total length field set to n.
func v3Len(n int, chunks ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16([]byte("HEP3"), uint16(n))
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b
}

// sipPacket is a well-formed HEPv3 packet carrying payload.
func sipPacket(captureID uint32, payload []byte) []byte {
	return v3(append(envelope(captureID, 1), chunk(ckPayload, payload...))...)
}

// v2 is a HEPv2 packet over IPv4 (Kamailio's hep_hdr + hep_timehdr).
func v2(captureID uint16, payload []byte) []byte {
	b := []byte{2, 16, 2, 17, 0x13, 0xc4, 0x13, 0xc4, 192, 0, 2, 1, 192, 0, 2, 2}
	b = binary.LittleEndian.AppendUint32(b, 1795609233)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint16(b, captureID)
	b = append(b, 0, 0)
	return append(b, payload...)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

const invite = "INVITE sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n" +
	"From: <sip:alice@192.0.2.1>;tag=1\r\nTo: <sip:bob@192.0.2.2>\r\nCall-ID: bad-%s@192.0.2.1\r\nCSeq: 1 INVITE\r\n"

// request returns an INVITE whose Call-ID names the case, then extra
// header lines and the end of the header section.
func request(name, extra string) string {
	return strings.Replace(invite, "%s", name, 1) + extra
}

// Cases returns the table. Each call builds it anew, so callers may modify
// the bytes.
func Cases() []Case {
	rng := rand.New(rand.NewPCG(5, 5))
	garbage := make([]byte, 1200)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	garbage[0] = 0xfe // not a HEP version byte
	good := sipPacket(1, []byte(request("x", "Content-Length: 0\r\n\r\n")))
	env := envelope(1, 1)
	withEnv := func(more ...[]byte) []byte { return v3(append(append([][]byte(nil), env...), more...)...) }
	payload := chunk(ckPayload, []byte(request("x", "\r\n"))...)

	refused := []Case{
		{Name: "empty datagram", HEP: []byte{}, Reason: "short_packet"},
		{Name: "HEP3 magic only", HEP: []byte("HEP3"), Reason: "short_packet"},
		{Name: "HEP3 with half a length", HEP: []byte("HEP3\x00"), Reason: "short_packet"},
		{Name: "truncated HEPv2 header", HEP: v2(1, nil)[:11], Reason: "short_packet"},
		{Name: "HEPv2 without its time header", HEP: v2(1, nil)[:20], Reason: "short_packet"},
		{Name: "unknown version byte 4", HEP: append([]byte{4, 16, 2, 17}, good[4:]...), Reason: "not_hep"},
		{Name: "HEP4 magic", HEP: append([]byte("HEP4"), good[4:]...), Reason: "not_hep"},
		{Name: "EEP3 magic", HEP: append([]byte("EEP3"), good[4:]...), Reason: "not_hep"},
		{Name: "HEPv2 unknown address family", HEP: func() []byte { b := v2(1, []byte("x")); b[2] = 7; return b }(), Reason: "not_hep"},
		{Name: "binary garbage", HEP: garbage, Reason: "not_hep"},
		{Name: "SIP without HEP", HEP: []byte(request("plain", "\r\n")), Reason: "not_hep"},
		{Name: "HEPv1 header length lies", HEP: func() []byte { b := v2(1, []byte("x")); b[0], b[1] = 1, 40; return b }(), Reason: "bad_length"},
		{Name: "HEPv3 total length under the header", HEP: func() []byte { b := bytes.Clone(good); b[4], b[5] = 0, 5; return b }(), Reason: "bad_length"},
		{Name: "HEPv3 total length past the datagram", HEP: func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)+1))
			return b
		}(), Reason: "bad_length"},
		{Name: "HEPv3 total length 0xffff", HEP: func() []byte { b := bytes.Clone(good); b[4], b[5] = 0xff, 0xff; return b }(), Reason: "bad_length"},
		{Name: "HEPv3 total length shorter, cutting the payload chunk", HEP: func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-10))
			return b
		}(), Reason: "bad_chunk"},
		{Name: "chunk length 0", HEP: withEnv(chunkLen(ckPayload, 0, []byte("INVITE"))), Reason: "bad_chunk"},
		{Name: "chunk length 5", HEP: withEnv(chunkLen(ckCaptureID, 5, nil)), Reason: "bad_chunk"},
		{Name: "chunk length past the end", HEP: withEnv(chunkLen(ckPayload, 200, []byte("INVITE sip:b@x SIP/2.0\r\n\r\n"))), Reason: "bad_chunk"},
		{Name: "giant chunk length in a small packet", HEP: withEnv(chunkLen(ckPayload, 0xffff, []byte("x"))), Reason: "bad_chunk"},
		{Name: "trailing bytes short of a chunk header", HEP: withEnv(payload, []byte{0, 0, 0}), Reason: "bad_chunk"},
		{Name: "IPv6 source chunk of 4 bytes", HEP: withEnv(chunk(ckSrc6, 1, 2, 3, 4), payload), Reason: "bad_chunk"},
		{Name: "IPv6 destination chunk of 15 bytes", HEP: withEnv(chunk(ckDst6, make([]byte, 15)...), payload), Reason: "bad_chunk"},
		{Name: "IPv6 source chunk of 17 bytes", HEP: withEnv(chunk(ckSrc6, make([]byte, 17)...), payload), Reason: "bad_chunk"},
		{Name: "IPv4 source chunk of 16 bytes", HEP: withEnv(chunk(ckSrc4, make([]byte, 16)...), payload), Reason: "bad_chunk"},
		{Name: "port chunk of 1 byte", HEP: withEnv(chunk(ckSrcPort, 1), payload), Reason: "bad_chunk"},
		{Name: "capture id chunk of 2 bytes", HEP: withEnv(chunk(ckCaptureID, 1, 2), payload), Reason: "bad_chunk"},
		{Name: "no payload chunk", HEP: v3(env...), Reason: "no_payload"},
		{Name: "empty payload chunk", HEP: withEnv(chunk(ckPayload)), Reason: "no_payload"},
		{Name: "HEPv2 header only", HEP: v2(1, nil), Reason: "no_payload"},
		{Name: "compressed payload neither gzip nor zlib", HEP: withEnv(chunk(ckCompressed, []byte(request("c", "\r\n"))...)), Reason: "inflate"},
		{Name: "compressed payload corrupt gzip", HEP: withEnv(chunk(ckCompressed, append([]byte{0x1f, 0x8b, 8, 0}, garbage[:64]...)...)), Reason: "inflate"},
		{Name: "compressed payload truncated gzip", HEP: func() []byte {
			z := gzipped([]byte(request("t", "\r\n")))
			return withEnv(chunk(ckCompressed, z[:len(z)/2]...))
		}(), Reason: "inflate"},
		{Name: "compressed payload one byte", HEP: withEnv(chunk(ckCompressed, 0x1f)), Reason: "inflate"},
		{Name: "decompression bomb", HEP: withEnv(chunk(ckCompressed, gzipped(make([]byte, 4<<20))...)), Reason: "inflate"},
		{Name: "payload type RTCP", HEP: v3(append(envelope(1, 5), chunk(ckPayload, 0x80, 0xc8, 0, 6))...), Reason: "not_sip"},
		{Name: "payload type log text", HEP: v3(append(envelope(1, 100), chunk(ckPayload, []byte("a log line")...))...), Reason: "not_sip"},
	}

	stored := []struct {
		name, payload, invalid string
		compressed, hepv2      bool
	}{
		{name: "binary garbage payload", payload: string(garbage), invalid: "sip: bad start line"},
		{name: "NUL bytes payload", payload: string(make([]byte, 300)), invalid: "sip: bad start line"},
		{name: "only CRLF", payload: "\r\n\r\n", invalid: "sip: empty message"},
		{name: "header line without colon", payload: request("nocolon", "Subject this has no colon\r\n\r\n"), invalid: "sip: bad header"},
		{name: "header name with a space", payload: request("space", "Sub ject: x\r\n\r\n"), invalid: "sip: bad header"},
		{name: "start line without line end", payload: "INVITE sip:bob@192.0.2.2 SIP/2.0", invalid: "sip: truncated"},
		{name: "header section cut mid-line", payload: request("cut", "Contact: <sip:al"), invalid: "sip: truncated"},
		{name: "10000 headers", payload: request("many", strings.Repeat("X:y\r\n", 10000)+"\r\n"), invalid: "sip: too many headers"},
		{name: "unknown SIP version", payload: "INVITE sip:bob@192.0.2.2 SIP/3.0\r\nCall-ID: v3\r\n\r\n", invalid: "sip: bad start line"},
		{name: "status code 700", payload: "SIP/2.0 700 Odd\r\nCall-ID: s700\r\n\r\n", invalid: "sip: bad start line"},
		{name: "status code 99", payload: "SIP/2.0 99 Odd\r\nCall-ID: s99\r\n\r\n", invalid: "sip: bad start line"},
		{name: "request line without URI", payload: "INVITE SIP/2.0\r\nCall-ID: nouri\r\n\r\n", invalid: "sip: bad start line"},
		{name: "HTTP request in SIP's place", payload: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", invalid: "sip: bad start line"},
		{name: "NUL byte in the start line", payload: "INV\x00ITE sip:bob@192.0.2.2 SIP/2.0\r\nCall-ID: nul\r\n\r\n", invalid: "sip: bad start line"},
		{name: "garbage SIP over HEPv2", payload: string(garbage[:300]), invalid: "sip: bad start line", hepv2: true},
		{name: "garbage SIP compressed", payload: "\x00\x01\x02 not SIP", invalid: "sip: bad start line", compressed: true},
		// Outcomes that are valid SIP: odd, but within RFC 3261's grammar or
		// its leniency; kept as request or response, raw byte for byte.
		{name: "huge Content-Length", payload: request("biglen", "Content-Length: 99999999999999999999\r\n\r\nv=0\r\n")},
		{name: "Content-Length longer than the body", payload: request("longer", "Content-Length: 500\r\n\r\nv=0\r\n")},
		{name: "invalid UTF-8 in a header value", payload: request("utf8", "Subject: \xff\xfe\xc3\x28 caf\xe9\r\n\r\n")},
		{name: "NUL byte in a header value", payload: request("nulhdr", "Subject: a\x00b\r\n\r\n")},
		{name: "NUL bytes in the body", payload: request("nulbody", "Content-Length: 4\r\n\r\n\x00\x00\x00\x00")},
		{name: "LF-only line ends", payload: strings.ReplaceAll(request("lf", "\r\n"), "\r\n", "\n")},
		{name: "no empty line after the headers", payload: request("noempty", "")},
	}
	out := refused
	for i, s := range stored {
		id := uint32(7000 + i)
		var b []byte
		switch {
		case s.hepv2:
			b = v2(uint16(id), []byte(s.payload))
		case s.compressed:
			b = v3(append(envelope(id, 1), chunk(ckCompressed, gzipped([]byte(s.payload))...))...)
		default:
			b = sipPacket(id, []byte(s.payload))
		}
		out = append(out, Case{Name: s.name, HEP: b, Invalid: s.invalid, Raw: []byte(s.payload), CaptureID: id})
	}
	return out
}
