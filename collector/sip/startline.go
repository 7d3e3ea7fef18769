package sip

import (
	"bytes"
	"fmt"

	"github.com/hepvault/hepvault"
)

// parseStartLine reads line, the first line without its line end, into m.
// On error m is left without start-line fields.
func (m *Message) parseStartLine(line []byte) error {
	// A status line starts with the version; a request cannot, since '/' is
	// not a token character (§7.1, §25.1).
	if len(line) >= 4 && eqFold(line[:4], "sip/") {
		return m.parseStatusLine(line)
	}
	return m.parseRequestLine(line)
}

// parseRequestLine reads Method SP Request-URI SP SIP-Version (§7.1). The
// elements are separated by single spaces and "no linear whitespace is
// allowed in any of the elements", so the method ends at the first space
// and the version starts after the last.
func (m *Message) parseRequestLine(line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return fmt.Errorf("%w: %q is neither a request line nor a status line", ErrStartLine, clip(line))
	}
	method := line[:sp]
	if !isToken(method) {
		return fmt.Errorf("%w: method %q is not a token", ErrStartLine, clip(method))
	}
	rest := line[sp+1:]
	sp = bytes.LastIndexByte(rest, ' ')
	if sp < 0 {
		return fmt.Errorf("%w: request line has no SIP-Version", ErrStartLine)
	}
	uri, version := rest[:sp], rest[sp+1:]
	if err := checkVersion(version); err != nil {
		return err
	}
	if err := checkRequestURI(uri); err != nil {
		return err
	}
	m.Method, m.RequestURI, m.Version = method, uri, version
	m.Kind = hepvault.KindRequest
	return nil
}

// parseStatusLine reads SIP-Version SP Status-Code SP Reason-Phrase (§7.2).
// Leniency: "SIP/2.0 200" without the space before an empty reason phrase.
func (m *Message) parseStatusLine(line []byte) error {
	version, rest := line, []byte(nil)
	if sp := bytes.IndexByte(line, ' '); sp >= 0 {
		version, rest = line[:sp], line[sp+1:]
	}
	if err := checkVersion(version); err != nil {
		return err
	}
	// Status-Code = 3DIGIT (§25.1); the classes run from 1xx to 6xx (§21).
	if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) ||
		len(rest) > 3 && rest[3] != ' ' {
		return fmt.Errorf("%w: status code %q is not 3 digits", ErrStartLine, clip(rest))
	}
	code := int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	if code < 100 || code > 699 {
		return fmt.Errorf("%w: status code %d is outside 100–699", ErrStartLine, code)
	}
	var reason []byte
	if len(rest) > 3 {
		reason = rest[4:]
	}
	// Reason-Phrase: any text but CR and LF (§25.1); other controls except
	// HTAB have no business there either. UTF-8 is not checked.
	for _, c := range reason {
		if c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("%w: control character %#02x in the reason phrase", ErrStartLine, c)
		}
	}
	m.Version, m.StatusCode, m.Reason = version, code, reason
	m.Kind = hepvault.KindResponse
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkVersion accepts SIP/2.0 in any case (§7.1: "the SIP-Version string
// is case-insensitive"). Other versions do not exist in use; a message
// claiming one is not something hepvault can read.
func checkVersion(v []byte) error {
	if eqFold(v, "sip/2.0") {
		return nil
	}
	if len(v) >= 4 && eqFold(v[:4], "sip/") {
		return fmt.Errorf("%w: version %q is not SIP/2.0", ErrStartLine, clip(v))
	}
	if len(v) == 0 {
		return fmt.Errorf("%w: request line has trailing whitespace or no SIP-Version", ErrStartLine)
	}
	return fmt.Errorf("%w: %q is not a SIP-Version", ErrStartLine, clip(v))
}

// checkRequestURI wants an absoluteURI (§25.1, RFC 2396 §3): a scheme, ':'
// and at least one more byte, none of them whitespace, controls or the
// delimiters '<', '>' and '"' (RFC 4475 §3.1.2.7, ltgtruri). Bytes from
// 0x80 up are let through: they are not valid, but not ambiguous either.
func checkRequestURI(u []byte) error {
	if bytes.IndexByte(u, ' ') >= 0 {
		return fmt.Errorf("%w: extra space in the request line", ErrStartLine)
	}
	i := 0
	for i < len(u) && (isAlpha(u[i]) || i > 0 && (isDigit(u[i]) || u[i] == '+' || u[i] == '-' || u[i] == '.')) {
		i++
	}
	if i == 0 || i == len(u) || u[i] != ':' || i+1 == len(u) {
		return fmt.Errorf("%w: Request-URI %q is not an absolute URI", ErrStartLine, clip(u))
	}
	for _, c := range u[i+1:] {
		if c < ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' {
			return fmt.Errorf("%w: %q in the Request-URI", ErrStartLine, c)
		}
	}
	return nil
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
