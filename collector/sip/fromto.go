package sip

// parseNameAddr reads the addr-spec and the tag parameter of a From or To
// value (§20.20, §20.39; from-spec in §25.1):
//
//	( name-addr / addr-spec ) *( SEMI from-param )
//	name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
//
// With angle brackets the URI is what they enclose; without, it ends at the
// first ';', since URI parameters then belong to the header (§20.10). A
// quoted display name may hold ';', '<' and escaped quotes. A value that
// does not parse (an unterminated quote or '<') gives nothing.
func parseNameAddr(v []byte) (uri, tag []byte) {
	v = trimLWS(v)
	for i := 0; i < len(v); {
		switch v[i] {
		case '"':
			if i = skipQuoted(v, i); i < 0 {
				return nil, nil
			}
			continue
		case '<':
			for j := i + 1; j < len(v); j++ {
				if v[j] == '>' {
					return trimLWS(v[i+1 : j]), param(v[j+1:], "tag")
				}
			}
			return nil, nil
		case ';':
			return trimLWS(v[:i]), param(v[i:], "tag")
		}
		i++
	}
	return v, nil
}

// param returns the value of the parameter name (lower case) in a
// parameter list "; name = value ; ...", comparing names without case
// (§7.3.1). It stops at the first ',' outside quotes, so that on a Via line
// of several values it reads the first one (§20.42). A parameter given
// without a value yields an empty one.
func param(s []byte, name string) []byte {
	for i := 0; i < len(s); {
		switch s[i] {
		case '"':
			if i = skipQuoted(s, i); i < 0 {
				return nil
			}
			continue
		case ',':
			return nil
		case ';':
		default:
			i++
			continue
		}
		i = skipLWS(s, i+1)
		start := i
		for i < len(s) && tokenChars[s[i]] {
			i++
		}
		if !eqFold(s[start:i], name) {
			continue
		}
		// generic-param = token [ EQUAL gen-value ], EQUAL = SWS "=" SWS
		i = skipLWS(s, i)
		if i == len(s) || s[i] != '=' {
			return nil
		}
		i = skipLWS(s, i+1)
		start = i
		for i < len(s) && s[i] != ';' && s[i] != ',' && !isLWS(s[i]) {
			i++
		}
		return s[start:i]
	}
	return nil
}
