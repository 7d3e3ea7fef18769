package hepvault

// Kind says what a captured payload is: a SIP request, a SIP response, or
// something that is neither (kept, with the reason, as invalid).
type Kind uint8

// The kinds, in the order they are stored (smallint).
const (
	KindInvalid Kind = iota
	KindRequest
	KindResponse
)

// String is the name used in the API, the CLI and the database.
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindResponse:
		return "response"
	}
	return "invalid"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "request":
		return KindRequest, true
	case "response":
		return KindResponse, true
	case "invalid":
		return KindInvalid, true
	}
	return 0, false
}

// StatusClass is the first digit of a status code (RFC 3261 §21): 1 to 6, or
// 0 when there is no valid status code.
type StatusClass uint8

// ClassOf returns the class of a status code, 0 when it is outside 100–699.
func ClassOf(code int) StatusClass {
	if code < 100 || code > 699 {
		return 0
	}
	return StatusClass(code / 100)
}

// String is the short form, "1xx" to "6xx", or "" for no class.
func (c StatusClass) String() string {
	if c < 1 || c > 6 {
		return ""
	}
	return string('0'+byte(c)) + "xx"
}

// Description is the name RFC 3261 §21 gives the class ("Informational").
func (c StatusClass) Description() string {
	switch c {
	case 1:
		return "Informational"
	case 2:
		return "Success"
	case 3:
		return "Redirection"
	case 4:
		return "Request failure"
	case 5:
		return "Server error"
	case 6:
		return "Global failure"
	}
	return ""
}
