package sip

import (
	"bytes"
	"fmt"
	"math"
)

// hdr names a header Parse stores; hdrOther is every other one.
type hdr uint8

const (
	hdrOther hdr = iota
	hdrCallID
	hdrCSeq
	hdrFrom
	hdrTo
	hdrVia
	hdrContact
	hdrUserAgent
	hdrServer
	hdrContentType
	hdrContentLength
	hdrPAI
	hdrCorrelation // X-CID, X-Call-ID, or one of headerParser.extra
)

// lookupHeader is the table of stored headers, keyed by lower-cased name and
// compact form (§7.3.3, §20). A switch on the length and then on the bytes:
// no map, no allocation, no lower-cased copy of the name.
func lookupHeader(name []byte) hdr {
	switch len(name) {
	case 1:
		switch name[0] | 0x20 { // the name is a token: only letters change
		case 'i':
			return hdrCallID
		case 'f':
			return hdrFrom
		case 't':
			return hdrTo
		case 'v':
			return hdrVia
		case 'm':
			return hdrContact
		case 'c':
			return hdrContentType
		case 'l':
			return hdrContentLength
		}
	case 2:
		if eqFold(name, "to") {
			return hdrTo
		}
	case 3:
		if eqFold(name, "via") {
			return hdrVia
		}
	case 4:
		if eqFold(name, "cseq") {
			return hdrCSeq
		}
		if eqFold(name, "from") {
			return hdrFrom
		}
	case 5:
		if eqFold(name, "x-cid") {
			return hdrCorrelation
		}
	case 6:
		if eqFold(name, "server") {
			return hdrServer
		}
	case 7:
		if eqFold(name, "call-id") {
			return hdrCallID
		}
		if eqFold(name, "contact") {
			return hdrContact
		}
	case 9:
		if eqFold(name, "x-call-id") {
			return hdrCorrelation
		}
	case 10:
		if eqFold(name, "user-agent") {
			return hdrUserAgent
		}
	case 12:
		if eqFold(name, "content-type") {
			return hdrContentType
		}
	case 14:
		if eqFold(name, "content-length") {
			return hdrContentLength
		}
	case 19:
		if eqFold(name, "p-asserted-identity") { // no compact form (RFC 3325)
			return hdrPAI
		}
	}
	return hdrOther
}

// headerParser walks the header fields of one message (§7.3).
type headerParser struct {
	m      *Message
	buf    []byte
	seen   uint16 // bit h: header h already stored (the first one wins)
	server []byte
	extra  []CorrelationHeader // correlating headers beside X-CID and X-Call-ID
}

// parse reads header fields from buf[pos:] up to the empty line and
// returns where the body starts.
func (p *headerParser) parse(pos int) (int, error) {
	buf, m := p.buf, p.m
	for {
		if pos == len(buf) {
			// No empty line, but every header line was complete: accepted
			// (agents sometimes drop the final CRLF); the body is empty.
			return pos, nil
		}
		switch buf[pos] {
		case '\n':
			return pos + 1, nil
		case '\r':
			if pos+1 == len(buf) || buf[pos+1] == '\n' {
				return min(pos+2, len(buf)), nil
			}
		case ' ', '\t':
			// Continuation lines are eaten by the field they continue, so
			// this one follows the start line.
			return 0, fmt.Errorf("%w: at byte %d: continuation line without a header", ErrHeader, pos)
		}
		if m.HeaderCount == MaxHeaders {
			return 0, fmt.Errorf("%w: more than %d", ErrTooManyHeaders, MaxHeaders)
		}
		m.HeaderCount++

		// header-name HCOLON, HCOLON = *( SP / HTAB ) ":" SWS (§25.1).
		i := pos
		for i < len(buf) && tokenChars[buf[i]] {
			i++
		}
		name := buf[pos:i]
		for i < len(buf) && isWSP(buf[i]) {
			i++
		}
		if i == len(buf) {
			return 0, fmt.Errorf("%w: header line at byte %d has no line end", ErrTruncated, pos)
		}
		if len(name) == 0 {
			return 0, fmt.Errorf("%w: at byte %d: %q does not start a header name", ErrHeader, pos, buf[pos])
		}
		if buf[i] != ':' {
			return 0, fmt.Errorf("%w: at byte %d: no colon after header name %q", ErrHeader, pos, clip(name))
		}

		// The value runs to the end of the line and over the continuation
		// lines, those starting with SP or HTAB (§7.3.1).
		start := i + 1
		lf := bytes.IndexByte(buf[start:], '\n')
		if lf < 0 {
			return 0, fmt.Errorf("%w: header %q has no line end", ErrTruncated, clip(name))
		}
		end := start + lf
		folded := false
		for end+1 < len(buf) && isWSP(buf[end+1]) {
			lf = bytes.IndexByte(buf[end+1:], '\n')
			if lf < 0 {
				return 0, fmt.Errorf("%w: header %q has no line end", ErrTruncated, clip(name))
			}
			end += 1 + lf
			folded = true
		}
		if h := lookupHeader(name); h != hdrOther && p.seen&(1<<h) == 0 {
			p.seen |= 1 << h
			p.store(h, trimCR(buf[start:end]), folded)
		} else if h == hdrOther && len(p.extra) > 0 && p.seen&(1<<hdrCorrelation) == 0 {
			if c := p.correlation(name, trimCR(buf[start:end]), folded); len(c) > 0 {
				p.seen |= 1 << hdrCorrelation
				m.Correlation = c
			}
		}
		pos = end + 1
	}
}

// store parses the raw value v of stored header h into the Message. The
// structured headers are read treating the CRLF of a fold as whitespace,
// which is what it is (§7.3.1), so they need no joining.
func (p *headerParser) store(h hdr, v []byte, folded bool) {
	m := p.m
	switch h {
	case hdrCallID:
		m.CallID = p.text(v, folded)
	case hdrCSeq:
		m.CSeqNum, m.CSeqMethod = parseCSeq(v)
	case hdrFrom:
		m.FromURI, m.FromTag = parseNameAddr(v)
	case hdrTo:
		m.ToURI, m.ToTag = parseNameAddr(v)
	case hdrPAI:
		m.PAIURI, _ = parseNameAddr(firstValue(v))
	case hdrVia:
		m.ViaBranch = param(v, "branch")
	case hdrContact:
		m.Contact = p.text(v, folded)
	case hdrUserAgent:
		m.UserAgent = p.text(v, folded)
	case hdrServer:
		p.server = p.text(v, folded)
	case hdrContentType:
		m.ContentType = p.text(v, folded)
	case hdrContentLength:
		m.ContentLength = parseContentLength(v)
	case hdrCorrelation:
		m.Correlation = p.text(v, folded)
		if len(m.Correlation) == 0 {
			p.seen &^= 1 << hdrCorrelation // an empty one correlates nothing: the next may
		}
	}
}

// text returns a value kept as is: trimmed, and if it is folded inside,
// joined with one space per fold into the Message's scratch buffer. The
// joined values of one message are shorter than the message, so scratch is
// sized once to len(buf) and never reallocated while its earlier values are
// in use.
func (p *headerParser) text(v []byte, folded bool) []byte {
	v = trimLWS(v)
	if !folded || bytes.IndexByte(v, '\n') < 0 {
		return v
	}
	s := p.m.scratch
	if len(s) == 0 && cap(s) < len(p.buf) {
		s = make([]byte, 0, len(p.buf))
	}
	start := len(s)
	for i := 0; i < len(v); {
		c := v[i]
		if c != '\r' && c != '\n' {
			s = append(s, c)
			i++
			continue
		}
		for len(s) > start && isWSP(s[len(s)-1]) {
			s = s[:len(s)-1]
		}
		s = append(s, ' ')
		i = skipLWS(v, i)
	}
	p.m.scratch = s
	return s[start:len(s):len(s)]
}

// parseCSeq reads CSeq = 1*DIGIT LWS Method (§20.16). A number that is
// missing or beyond uint32 gives 0; the method is read regardless.
func parseCSeq(v []byte) (uint32, []byte) {
	v = trimLWS(v)
	var n uint64
	i := 0
	for ; i < len(v) && isDigit(v[i]); i++ {
		if n <= math.MaxUint32 {
			n = n*10 + uint64(v[i]-'0')
		}
	}
	if n > math.MaxUint32 {
		n = 0
	}
	i = skipLWS(v, i)
	j := i
	for j < len(v) && tokenChars[v[j]] {
		j++
	}
	return uint32(n), v[i:j]
}

// parseContentLength reads Content-Length = 1*DIGIT (§20.14): -1 when it is
// not a number, math.MaxInt when it is too large (recorded, not an error).
func parseContentLength(v []byte) int {
	v = trimLWS(v)
	if len(v) == 0 {
		return -1
	}
	n := 0
	for _, c := range v {
		if !isDigit(c) {
			return -1
		}
		d := int(c - '0')
		if n > (math.MaxInt-d)/10 {
			n = math.MaxInt
			continue
		}
		if n != math.MaxInt {
			n = n*10 + d
		}
	}
	return n
}
