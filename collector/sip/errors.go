package sip

import "errors"

// Errors of Parse. Each error it returns wraps exactly one of them, with
// the detail (what, and where) in its message; test them with errors.Is.
var (
	// ErrEmpty: no bytes, or nothing but CRLF (a keepalive, RFC 5626 §4.4.1).
	ErrEmpty = errors.New("sip: empty message")
	// ErrStartLine: the first line is neither a Request-Line nor a
	// Status-Line of SIP/2.0 (RFC 3261 §7.1, §7.2).
	ErrStartLine = errors.New("sip: bad start line")
	// ErrHeader: a header line that is not "token HCOLON value" (§7.3).
	ErrHeader = errors.New("sip: bad header")
	// ErrTooManyHeaders: more than MaxHeaders header fields.
	ErrTooManyHeaders = errors.New("sip: too many headers")
	// ErrTruncated: the message stops inside a line.
	ErrTruncated = errors.New("sip: truncated message")
)

// clip shortens b for an error message: garbage can be long.
func clip(b []byte) string {
	const max = 32
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
