package sip

import "bytes"

// URIUser returns the user part of a SIP, SIPS or tel URI, percent-decoded:
//
//   - sip: and sips: (RFC 3261 §19.1.1): the userinfo, everything between
//     the scheme's colon and the '@', without a ":password". A URI without
//     '@' has no user. Parameters written inside the user, as in
//     "sip:+4930;npdi@host", are part of it.
//   - tel: (RFC 3966 §3): the number, everything after "tel:" up to the
//     first ';' (where its parameters start), visual separators included.
//
// Schemes compare without case. Any other scheme, and a URI without one,
// has no user: the result is empty.
//
// Escapes (%XX, §25.1) are decoded; a '%' not followed by two hex digits is
// kept as it is. The result aliases uri unless an escape was decoded: then,
// and only then, it is a new slice.
func URIUser(uri []byte) []byte {
	user, pct := rawUser(uri)
	if !pct {
		return user
	}
	return unescape(user)
}

// rawUser is the user part of uri as written, escapes and all: a subslice of
// uri (see URIUser). pct reports a '%' in it. One pass over the bytes: the
// users are short, and this is on the path of every packet.
func rawUser(uri []byte) (user []byte, pct bool) {
	var rest []byte
	switch {
	case len(uri) > 4 && uri[3] == ':' && eqFold(uri[:3], "sip"):
		rest = uri[4:]
	case len(uri) > 5 && uri[4] == ':' && eqFold(uri[:4], "sips"):
		rest = uri[5:]
	case len(uri) >= 4 && uri[3] == ':' && eqFold(uri[:3], "tel"):
		for i, c := range uri[4:] {
			switch c {
			case ';':
				return uri[4 : 4+i], pct
			case '%':
				pct = true
			}
		}
		return uri[4:], pct
	default:
		return nil, false
	}
	// '@' ends the userinfo. Neither the user nor the password, nor anything
	// after the host, may hold a bare '@' (§25.1): the first one is the only
	// one in a well-formed URI. The first ':' before it starts the password:
	// a user has no bare ':'.
	end := -1
	for i, c := range rest {
		switch c {
		case '@':
			if end < 0 {
				end = i
			}
			return rest[:end], pct
		case ':':
			if end < 0 {
				end = i
			}
		case '%':
			if end < 0 {
				pct = true
			}
		}
	}
	return nil, false
}

// unescape decodes the %XX escapes in b. It returns b itself when there is
// none, else a new slice; a '%' without two hex digits after it is kept.
func unescape(b []byte) []byte {
	i := nextEscape(b, 0)
	if i < 0 {
		return b
	}
	out := make([]byte, i, len(b)-2)
	copy(out, b[:i])
	for i >= 0 {
		out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
		next := nextEscape(b, i+3)
		end := next
		if next < 0 {
			end = len(b)
		}
		out = append(out, b[i+3:end]...)
		i = next
	}
	return out
}

// nextEscape returns the index of the first escape (%XX) in b at or after
// i, or -1.
func nextEscape(b []byte, i int) int {
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '%')
		if j < 0 {
			return -1
		}
		i += j
		if i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			return i
		}
		i++
	}
	return -1
}

func isHex(c byte) bool {
	lower := c | 0x20 // only 'A'-'F' and 'a'-'f' land in 'a'-'f'
	return isDigit(c) || 'a' <= lower && lower <= 'f'
}

// unhex is the value of the hex digit c.
func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}

// firstValue cuts v, a list of name-addr / addr-spec values separated by
// commas, to its first value. Commas inside a quoted display name or inside
// angle brackets (a URI may hold them, §19.1.1) do not separate values. An
// unterminated quote or '<' leaves v whole, for parseNameAddr to refuse.
func firstValue(v []byte) []byte {
	for i := 0; i < len(v); {
		switch v[i] {
		case '"':
			if i = skipQuoted(v, i); i < 0 {
				return v
			}
			continue
		case '<':
			j := bytes.IndexByte(v[i:], '>')
			if j < 0 {
				return v
			}
			i += j + 1
			continue
		case ',':
			return v[:i]
		}
		i++
	}
	return v
}
