package sip

// Method is the method of a request, typed: the six of RFC 3261 and the
// extensions common enough to count separately. Anything else is an
// extension method (§27.4), MethodOther.
type Method uint8

// The methods. MethodNone is the zero value: no method at all.
const (
	MethodNone Method = iota
	MethodInvite
	MethodAck
	MethodBye
	MethodCancel
	MethodRegister
	MethodOptions
	MethodPrack     // RFC 3262
	MethodSubscribe // RFC 6665
	MethodNotify    // RFC 6665
	MethodPublish   // RFC 3903
	MethodInfo      // RFC 6086
	MethodRefer     // RFC 3515
	MethodMessage   // RFC 3428
	MethodUpdate    // RFC 3311
	MethodOther
)

var methodNames = [...]string{
	MethodNone:      "",
	MethodInvite:    "INVITE",
	MethodAck:       "ACK",
	MethodBye:       "BYE",
	MethodCancel:    "CANCEL",
	MethodRegister:  "REGISTER",
	MethodOptions:   "OPTIONS",
	MethodPrack:     "PRACK",
	MethodSubscribe: "SUBSCRIBE",
	MethodNotify:    "NOTIFY",
	MethodPublish:   "PUBLISH",
	MethodInfo:      "INFO",
	MethodRefer:     "REFER",
	MethodMessage:   "MESSAGE",
	MethodUpdate:    "UPDATE",
	MethodOther:     "other",
}

// String is the method as written on the wire ("INVITE"), "other" for
// MethodOther and "" for MethodNone.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return "other"
}

// MethodOf types a method token. Methods are case-sensitive (RFC 3261
// §7.1), so "invite" is MethodOther; an empty b is MethodNone.
func MethodOf(b []byte) Method {
	// Switch on the length first, then compare: no map, no allocation
	// (string(b) in a comparison does not allocate).
	switch len(b) {
	case 0:
		return MethodNone
	case 3:
		switch string(b) {
		case "ACK":
			return MethodAck
		case "BYE":
			return MethodBye
		}
	case 4:
		if string(b) == "INFO" {
			return MethodInfo
		}
	case 5:
		switch string(b) {
		case "PRACK":
			return MethodPrack
		case "REFER":
			return MethodRefer
		}
	case 6:
		switch string(b) {
		case "INVITE":
			return MethodInvite
		case "CANCEL":
			return MethodCancel
		case "NOTIFY":
			return MethodNotify
		case "UPDATE":
			return MethodUpdate
		}
	case 7:
		switch string(b) {
		case "OPTIONS":
			return MethodOptions
		case "PUBLISH":
			return MethodPublish
		case "MESSAGE":
			return MethodMessage
		}
	case 8:
		if string(b) == "REGISTER" {
			return MethodRegister
		}
	case 9:
		if string(b) == "SUBSCRIBE" {
			return MethodSubscribe
		}
	}
	return MethodOther
}
