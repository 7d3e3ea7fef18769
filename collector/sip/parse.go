package sip

import (
	"bytes"
	"fmt"

	"github.com/hepvault/hepvault"
)

// MaxHeaders is the most header fields Parse accepts in one message. RFC
// 3261 sets no limit; real messages carry a few dozen, and 70 proxies each
// adding a Via and a Record-Route line (Max-Forwards starts at 70) stay far
// below it, while a 64 KiB datagram could hold thousands of tiny ones.
const MaxHeaders = 1000

// Parse reads the SIP message in buf into m, resetting m first. The fields
// of m alias buf (see Message). Parse makes no allocation unless a stored
// header is folded inside its value (the Message's scratch buffer then
// grows, once, to len(buf)) or the message is invalid (the error).
//
// A message Parse accepts has Kind KindRequest or KindResponse. Otherwise
// Parse returns an error wrapping one of ErrEmpty, ErrStartLine, ErrHeader,
// ErrTooManyHeaders or ErrTruncated, sets m.Kind to KindInvalid and m.Err to
// the error, and leaves in m what it had read: a message with a broken
// header still shows its start line and the headers before it.
func Parse(buf []byte, m *Message) error {
	m.Reset()
	if err := m.parse(buf, nil); err != nil {
		m.Kind, m.Err = hepvault.KindInvalid, err
		return err
	}
	return nil
}

func (m *Message) parse(buf []byte, extra []CorrelationHeader) error {
	if len(buf) == 0 {
		return ErrEmpty
	}
	// "Implementations processing SIP messages over stream-oriented
	// transports MUST ignore any CRLF appearing before the start-line"
	// (§7.5); agents mirroring TCP may pass them on.
	pos := 0
	for pos < len(buf) && (buf[pos] == '\r' || buf[pos] == '\n') {
		pos++
	}
	if pos == len(buf) {
		return fmt.Errorf("%w: only CRLF (a keepalive)", ErrEmpty)
	}
	lf := bytes.IndexByte(buf[pos:], '\n')
	line := buf[pos:]
	if lf >= 0 {
		line = buf[pos : pos+lf]
	}
	// The start line is checked before its line end, so that garbage
	// without any LF is ErrStartLine, not ErrTruncated.
	if err := m.parseStartLine(trimCR(line)); err != nil {
		return err
	}
	if lf < 0 {
		return fmt.Errorf("%w: no line end after the start line", ErrTruncated)
	}
	p := headerParser{m: m, buf: buf, extra: extra}
	end, err := p.parse(pos + lf + 1)
	if len(m.UserAgent) == 0 {
		m.UserAgent = p.server
	}
	if err != nil {
		return err
	}
	// Content-Length counts the body octets (§20.14); over UDP the datagram
	// may carry more, which are not part of the message (§18.3).
	body := buf[end:]
	if m.ContentLength >= 0 && m.ContentLength < len(body) {
		body = body[:m.ContentLength]
	}
	m.Body = body
	return nil
}
