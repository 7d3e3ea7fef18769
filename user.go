package hepvault

// UserKey is the form in which a URI's user part is indexed and compared.
// A telephone number (RFC 3966: digits with an optional leading '+' and the
// visual separators '-', '.', '(', ')' and space) becomes its digits alone,
// so "+49 30 7741528", "+49-30-7741528" and "49307741528" are one key. Any
// other user is kept as it is: the user part of a SIP URI is case-sensitive
// (RFC 3261 §19.1.4).
func UserKey(user string) string {
	if !isPhoneNumber(user) {
		return user
	}
	return string(AppendUserKey(make([]byte, 0, len(user)), user))
}

// AppendUserKey appends UserKey(user) to b, for callers that hash keys by
// the million and keep none.
func AppendUserKey(b []byte, user string) []byte {
	if !isPhoneNumber(user) {
		return append(b, user...)
	}
	for i := 0; i < len(user); i++ {
		if c := user[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return b
}

func isPhoneNumber(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' && i == 0:
		case c == '-' || c == '.' || c == '(' || c == ')' || c == ' ':
		default:
			return false
		}
	}
	return digits > 0
}
