package sip

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/hepvault/hepvault"
)

// msg joins lines with CRLF: msg("INVITE sip:x SIP/2.0", "i: a", "", "")
// is a request with one header and an empty body.
func msg(lines ...string) string { return strings.Join(lines, "\r\n") }

// field returns the field of m a test case names, as text.
func field(m *Message, key string) string {
	switch key {
	case "kind":
		return m.Kind.String()
	case "method":
		return string(m.Method)
	case "uri":
		return string(m.RequestURI)
	case "status":
		return strconv.Itoa(m.StatusCode)
	case "reason":
		return string(m.Reason)
	case "version":
		return string(m.Version)
	case "call_id":
		return string(m.CallID)
	case "cseq":
		return fmt.Sprintf("%d %s", m.CSeqNum, m.CSeqMethod)
	case "from_uri":
		return string(m.FromURI)
	case "from_tag":
		return string(m.FromTag)
	case "to_uri":
		return string(m.ToURI)
	case "to_tag":
		return string(m.ToTag)
	case "branch":
		return string(m.ViaBranch)
	case "ua":
		return string(m.UserAgent)
	case "contact":
		return string(m.Contact)
	case "ctype":
		return string(m.ContentType)
	case "clen":
		return strconv.Itoa(m.ContentLength)
	case "headers":
		return strconv.Itoa(m.HeaderCount)
	case "body":
		return string(m.Body)
	}
	panic("unknown field " + key)
}

// checkFields checks "key=value" expectations against m.
func checkFields(t *testing.T, m *Message, want []string) {
	t.Helper()
	for _, kv := range want {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("bad expectation %q", kv)
		}
		if got := field(m, key); got != value {
			t.Errorf("unexpected %s; got %q; want %q", key, got, value)
		}
	}
}

func TestParse_Success(t *testing.T) {
	f := func(name, in, summary string, want ...string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			var m Message
			if err := Parse([]byte(in), &m); err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := m.Summary(); got != summary {
				t.Errorf("unexpected summary; got %q; want %q", got, summary)
			}
			checkFields(t, &m, want)
		})
	}

	invite := msg(
		"INVITE sip:bob@example.com SIP/2.0",
		"Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds",
		"Max-Forwards: 70",
		`From: "Alice" <sip:alice@example.com>;tag=1928301774`,
		"To: Bob <sip:bob@example.com>",
		"Call-ID: a84b4c76e66710@pc33.example.com",
		"CSeq: 314159 INVITE",
		"Contact: <sip:alice@pc33.example.com>",
		"User-Agent: softphone/1.0",
		"Content-Type: application/sdp",
		"Content-Length: 4",
		"",
		"v=0\n")
	f("rfc3261 invite", invite, "request INVITE",
		"kind=request", "method=INVITE", "uri=sip:bob@example.com", "version=SIP/2.0", "status=0", "reason=",
		"branch=z9hG4bK776asdhds", "from_uri=sip:alice@example.com", "from_tag=1928301774",
		"to_uri=sip:bob@example.com", "to_tag=", "call_id=a84b4c76e66710@pc33.example.com",
		"cseq=314159 INVITE", "contact=<sip:alice@pc33.example.com>", "ua=softphone/1.0",
		"ctype=application/sdp", "clen=4", "headers=10", "body=v=0\n")

	// Header names: compact forms (§7.3.3), any case, space before the colon.
	f("compact forms", msg("INVITE sip:b@x SIP/2.0", "v: SIP/2.0/UDP h;branch=z9hG4bKc", "f: <sip:a@x>;tag=1",
		"t: <sip:b@x>;tag=2", "i: cid", "m: <sip:a@h>", "c: text/plain", "l: 2", "k: 100rel", "s: hi", "o: x",
		"u: y", "r: <sip:r@x>", "b: <sip:b@x>", "x: 90", "e: gzip", "", "hi"), "request INVITE",
		"branch=z9hG4bKc", "from_tag=1", "to_tag=2", "call_id=cid", "contact=<sip:a@h>", "ctype=text/plain",
		"clen=2", "body=hi", "headers=15")
	f("compact forms upper case", msg("BYE sip:b@x SIP/2.0", "V: SIP/2.0/UDP h;branch=z9hG4bKC", "F: <sip:a@x>;tag=1",
		"T: <sip:b@x>;tag=2", "I: cid", "M: <sip:a@h>", "C: text/plain", "L: 0", "", ""), "request BYE",
		"branch=z9hG4bKC", "from_tag=1", "to_tag=2", "call_id=cid", "contact=<sip:a@h>", "ctype=text/plain", "clen=0")
	f("mixed case names", msg("BYE sip:b@x SIP/2.0", "vIA: SIP/2.0/UDP h;BRANCH=z9hG4bKm", "FROM: <sip:a@x>;TAG=1",
		"tO: <sip:b@x>;Tag=2", "cALL-iD: cid", "cseq: 7 BYE", "CONTACT: <sip:a@h>", "user-AGENT: ua",
		"content-TYPE: a/b", "CONTENT-length: 0", "", ""), "request BYE",
		"branch=z9hG4bKm", "from_tag=1", "to_tag=2", "call_id=cid", "cseq=7 BYE", "contact=<sip:a@h>", "ua=ua",
		"ctype=a/b", "clen=0")
	f("whitespace around colon", msg("BYE sip:b@x SIP/2.0", "Call-ID  : cid", "CSeq\t:\t2 BYE", "From:<sip:a@x>;tag=1",
		"To :\t <sip:b@x> ", "", ""), "request BYE", "call_id=cid", "cseq=2 BYE", "from_uri=sip:a@x",
		"from_tag=1", "to_uri=sip:b@x")
	f("empty values", msg("OPTIONS sip:x@y SIP/2.0", "Subject:", "Call-ID:", "User-Agent:   ", "", ""),
		"request OPTIONS", "call_id=", "ua=", "headers=3")
	f("value with colons", msg("OPTIONS sip:x@y SIP/2.0", "Date: Sat, 13 Nov 2010 23:29:00 GMT",
		"Call-ID: a:b:c", "", ""), "request OPTIONS", "call_id=a:b:c")
	f("duplicate headers first wins", msg("OPTIONS sip:x@y SIP/2.0", "Call-ID: first", "i: second",
		"Content-Length: 0", "l: 5", "Contact: <sip:1@h>", "m: <sip:2@h>", "", "xxxxx"), "request OPTIONS",
		"call_id=first", "clen=0", "body=", "contact=<sip:1@h>")

	// Folding (§7.3.1): a line starting with SP or HTAB continues the field.
	f("folded Call-ID", msg("BYE sip:b@x SIP/2.0", "Call-ID:", "   folded@host", "", ""), "request BYE",
		"call_id=folded@host", "headers=1")
	f("folded User-Agent joined", msg("BYE sip:b@x SIP/2.0", "User-Agent: foo  ", " \t bar", "\tbaz", "", ""),
		"request BYE", "ua=foo bar baz")
	f("folded Contact joined", msg("REGISTER sip:x SIP/2.0", "m: <sip:a@h>;", "  expires=60", "Content-Type: a/", " b", "", ""),
		"request REGISTER", "contact=<sip:a@h>; expires=60", "ctype=a/ b")
	f("folded From and To", msg("BYE sip:b@x SIP/2.0", "From: Alice", "  <sip:a@x>", "  ;tag=fa", "To:", " <sip:b@x>;", " tag", " =", " tb", "", ""),
		"request BYE", "from_uri=sip:a@x", "from_tag=fa", "to_uri=sip:b@x", "to_tag=tb")
	f("folded CSeq", msg("BYE sip:b@x SIP/2.0", "CSeq: 12", "\tBYE", "", ""), "request BYE", "cseq=12 BYE")
	f("folded Via", msg("BYE sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h", " ;branch=z9hG4bKf", "Via: SIP/2.0/UDP g;branch=z9hG4bKg", "", ""),
		"request BYE", "branch=z9hG4bKf", "headers=2")
	f("folded other header", msg("BYE sip:b@x SIP/2.0", "Subject: a", " b", " c", "Call-ID: x", "", ""),
		"request BYE", "call_id=x", "headers=2")

	// From and To (§20.20, §20.39).
	f("display name with ; and <", msg("BYE sip:b@x SIP/2.0", `From: "a;tag=no <sip:no@x>" <sip:a@x>;tag=yes`,
		`To: "x \"y\" ;tag=no" <sip:b@x>;tag=7`, "", ""), "request BYE",
		"from_uri=sip:a@x", "from_tag=yes", "to_uri=sip:b@x", "to_tag=7")
	f("addr-spec without brackets", msg("BYE sip:b@x SIP/2.0", "From: sip:a@x;tag=1;other=2", "To: sip:b@x ; tag = 2 ", "", ""),
		"request BYE", "from_uri=sip:a@x", "from_tag=1", "to_uri=sip:b@x", "to_tag=2")
	f("URI params inside brackets", msg("BYE sip:b@x SIP/2.0", "From: <sip:a@x;tag=inuri;transport=tcp>;tag=real", "", ""),
		"request BYE", "from_uri=sip:a@x;tag=inuri;transport=tcp", "from_tag=real")
	f("tag among params", msg("BYE sip:b@x SIP/2.0", `From: <sip:a@x>;p="v;tag=no";x;TAG=t1;tagx=no`, "To: <sip:b@x>;tagx=no", "", ""),
		"request BYE", "from_tag=t1", "to_tag=")
	f("unterminated bracket", msg("BYE sip:b@x SIP/2.0", "From: <sip:a@x;tag=1", "", ""), "request BYE",
		"from_uri=", "from_tag=")

	// Via (§20.42): the first value of the first Via line.
	f("several Via values on one line", msg("BYE sip:b@x SIP/2.0",
		"Via: SIP/2.0/UDP a;branch=z9hG4bKtop, SIP/2.0/UDP b;branch=z9hG4bKsecond", "", ""), "request BYE", "branch=z9hG4bKtop")
	f("top Via value without branch", msg("BYE sip:b@x SIP/2.0",
		"Via: SIP/2.0/UDP a;rport, SIP/2.0/UDP b;branch=z9hG4bKsecond", "", ""), "request BYE", "branch=")
	f("Via over two lines", msg("BYE sip:b@x SIP/2.0", "Via: SIP/2.0/UDP a;branch=z9hG4bKfirst",
		"Via: SIP/2.0/UDP b;branch=z9hG4bKsecond", "", ""), "request BYE", "branch=z9hG4bKfirst", "headers=2")
	f("Via IPv6 and params", msg("BYE sip:b@x SIP/2.0", "Via: SIP/2.0/TCP [2001:db8::1]:5060;received=2001:db8::2;rport=5060;branch=z9hG4bK6", "", ""),
		"request BYE", "branch=z9hG4bK6")

	// Line ends: bare LF accepted; CRLF before the start line skipped (§7.5).
	f("LF only", strings.Join([]string{"INVITE sip:b@x SIP/2.0", "Call-ID: lf", "From: <sip:a@x>;tag=1",
		"Content-Length: 3", "", "abc"}, "\n"), "request INVITE", "call_id=lf", "from_tag=1", "clen=3", "body=abc")
	f("LF only folded", strings.Join([]string{"INVITE sip:b@x SIP/2.0", "User-Agent: a", " b", "", ""}, "\n"),
		"request INVITE", "ua=a b")
	f("mixed CRLF and LF", "INVITE sip:b@x SIP/2.0\nCall-ID: mixed\r\nCSeq: 1 INVITE\n\r\n", "request INVITE",
		"call_id=mixed", "cseq=1 INVITE")
	f("leading CRLF", "\r\n\r\nOPTIONS sip:x@y SIP/2.0\r\n\r\n", "request OPTIONS", "headers=0")
	f("no empty line", msg("OPTIONS sip:x@y SIP/2.0", "Call-ID: a", ""), "request OPTIONS", "call_id=a", "body=")
	f("start line only", "OPTIONS sip:x@y SIP/2.0\r\n", "request OPTIONS", "headers=0")
	f("lone CR at the end", "OPTIONS sip:x@y SIP/2.0\r\nCall-ID: a\r\n\r", "request OPTIONS", "call_id=a", "body=")

	// Request lines (§7.1).
	f("extension method", msg("FOO sip:x SIP/2.0", "", ""), "request FOO", "method=FOO", "uri=sip:x")
	f("lower-case method is another method", msg("invite sip:x SIP/2.0", "", ""), "request invite")
	f("lower-case version", msg("OPTIONS sip:x sip/2.0", "", ""), "request OPTIONS", "version=sip/2.0")
	f("tel URI", msg("INVITE tel:+15551234;phone-context=x SIP/2.0", "", ""), "request INVITE", "uri=tel:+15551234;phone-context=x")
	f("unknown scheme", msg("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0", "", ""), "request OPTIONS")

	// Status lines (§7.2) and classes (§21).
	f("100", msg("SIP/2.0 100 Trying", "", ""), "response 100 Trying (1xx Informational)", "kind=response", "status=100", "reason=Trying", "method=")
	f("180", msg("SIP/2.0 180 Ringing", "", ""), "response 180 Ringing (1xx Informational)")
	f("200", msg("SIP/2.0 200 OK", "", ""), "response 200 OK (2xx Success)")
	f("302", msg("SIP/2.0 302 Moved Temporarily", "", ""), "response 302 Moved Temporarily (3xx Redirection)")
	f("404", msg("SIP/2.0 404 Not Found", "", ""), "response 404 Not Found (4xx Request failure)")
	f("503", msg("SIP/2.0 503 Service Unavailable", "", ""), "response 503 Service Unavailable (5xx Server error)")
	f("603", msg("SIP/2.0 603 Decline", "", ""), "response 603 Decline (6xx Global failure)")
	f("699", msg("SIP/2.0 699 x", "", ""), "response 699 x (6xx Global failure)")
	f("kamailio reason", msg("SIP/2.0 100 trying -- your call is important to us", "", ""),
		"response 100 trying -- your call is important to us (1xx Informational)")
	f("empty reason", msg("SIP/2.0 200 ", "", ""), "response 200 (2xx Success)", "reason=")
	f("no space before empty reason", msg("SIP/2.0 200", "", ""), "response 200 (2xx Success)", "reason=")
	f("reason with tab and UTF-8", msg("SIP/2.0 486 Occupé\tici", "", ""), "response 486 Occupé\tici (4xx Request failure)")
	f("Server is the UA of a response", msg("SIP/2.0 200 OK", "Server: kamailio (5.6.3 (x86_64/linux))", "", ""),
		"response 200 OK (2xx Success)", "ua=kamailio (5.6.3 (x86_64/linux))")
	f("User-Agent wins over Server", msg("SIP/2.0 200 OK", "Server: srv", "User-Agent: ua", "", ""),
		"response 200 OK (2xx Success)", "ua=ua")
	f("empty User-Agent falls back to Server", msg("SIP/2.0 200 OK", "User-Agent:", "Server: srv", "", ""),
		"response 200 OK (2xx Success)", "ua=srv")

	// Body and Content-Length (§20.14).
	f("body cut to Content-Length", msg("MESSAGE sip:x SIP/2.0", "l: 5", "", "hello, and trailing octets"),
		"request MESSAGE", "clen=5", "body=hello")
	f("Content-Length beyond the body", msg("MESSAGE sip:x SIP/2.0", "l: 500", "", "short"),
		"request MESSAGE", "clen=500", "body=short")
	f("no Content-Length", msg("MESSAGE sip:x SIP/2.0", "", "all of it"), "request MESSAGE", "clen=-1", "body=all of it")
	f("Content-Length 0 with octets after", msg("MESSAGE sip:x SIP/2.0", "l: 0", "", "junk"), "request MESSAGE", "clen=0", "body=")
	f("large Content-Length", msg("MESSAGE sip:x SIP/2.0", "l: 4294967296", "", ""), "request MESSAGE", "clen=4294967296")
	f("huge Content-Length", msg("MESSAGE sip:x SIP/2.0", "l: 99999999999999999999999999", "", "x"), "request MESSAGE",
		"clen="+strconv.Itoa(math.MaxInt), "body=x")
	f("Content-Length not a number", msg("MESSAGE sip:x SIP/2.0", "l: 12abc", "", "x"), "request MESSAGE", "clen=-1", "body=x")

	// CSeq (§20.16).
	f("CSeq max", msg("BYE sip:x SIP/2.0", "CSeq: 4294967295 BYE", "", ""), "request BYE", "cseq=4294967295 BYE")
	f("CSeq overflow", msg("BYE sip:x SIP/2.0", "CSeq: 4294967296 BYE", "", ""), "request BYE", "cseq=0 BYE")
	f("CSeq without number", msg("BYE sip:x SIP/2.0", "CSeq: BYE", "", ""), "request BYE", "cseq=0 BYE")

	// Bytes are bytes: values are not checked for UTF-8 or controls.
	f("invalid UTF-8 in values", msg("MESSAGE sip:x SIP/2.0", "Subject: \xff\xfe", "User-Agent: caf\xe9", "X-Nul: a\x00b", "", ""),
		"request MESSAGE", "ua=caf\xe9", "headers=3")

	many := []string{"OPTIONS sip:x SIP/2.0"}
	for i := range MaxHeaders {
		many = append(many, "X-H"+strconv.Itoa(i)+": v")
	}
	f("MaxHeaders headers", msg(append(many, "", "")...), "request OPTIONS", "headers="+strconv.Itoa(MaxHeaders))
}

func TestParse_Failure(t *testing.T) {
	f := func(name, in string, want error, fields ...string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			var m Message
			err := Parse([]byte(in), &m)
			if !errors.Is(err, want) {
				t.Fatalf("unexpected error; got %v; want %v", err, want)
			}
			sentinelOf(t, err)
			if m.Kind != hepvault.KindInvalid || m.Err != err {
				t.Errorf("unexpected kind %v, Err %v; want invalid, %v", m.Kind, m.Err, err)
			}
			if s := m.Summary(); !strings.HasPrefix(s, "invalid: ") {
				t.Errorf("unexpected summary %q", s)
			}
			checkFields(t, &m, fields)
		})
	}

	f("empty", "", ErrEmpty)
	f("only CRLF", "\r\n\r\n", ErrEmpty)

	// Start lines (§7.1, §7.2).
	f("binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrStartLine)
	f("binary garbage with LF", "\x00\x01\x02\n\x03\x04\r\n\r\n", ErrStartLine)
	f("NUL in method", msg("INV\x00ITE sip:x SIP/2.0", "", ""), ErrStartLine, "method=")
	f("NUL in Request-URI", msg("INVITE sip:a\x00b SIP/2.0", "", ""), ErrStartLine)
	f("NUL in reason", msg("SIP/2.0 200 O\x00K", "", ""), ErrStartLine, "status=0")
	f("CR in reason", "SIP/2.0 200 OK\r\r\n\r\n", ErrStartLine)
	f("status 99", msg("SIP/2.0 99 Low", "", ""), ErrStartLine)
	f("status 099", msg("SIP/2.0 099 Low", "", ""), ErrStartLine)
	f("status 700", msg("SIP/2.0 700 High", "", ""), ErrStartLine)
	f("status 20x", msg("SIP/2.0 20x OK", "", ""), ErrStartLine)
	f("status 2000", msg("SIP/2.0 2000 OK", "", ""), ErrStartLine)
	f("status glued to reason", msg("SIP/2.0 200OK", "", ""), ErrStartLine)
	f("status line without code", msg("SIP/2.0", "", ""), ErrStartLine)
	f("status line with space only", msg("SIP/2.0 ", "", ""), ErrStartLine)
	f("status line version 3.0", msg("SIP/3.0 200 OK", "", ""), ErrStartLine)
	f("request without version", msg("INVITE sip:x", "", ""), ErrStartLine)
	f("method alone", msg("INVITE", "", ""), ErrStartLine)
	f("request version 3.0", msg("INVITE sip:x SIP/3.0", "", ""), ErrStartLine)
	f("request version 2.1", msg("INVITE sip:x SIP/2.1", "", ""), ErrStartLine)
	f("HTTP request", msg("GET / HTTP/1.1", "Host: x", "", ""), ErrStartLine)
	f("HTTP response", msg("HTTP/1.1 200 OK", "", ""), ErrStartLine)
	f("Request-URI in brackets", msg("INVITE <sip:x@y> SIP/2.0", "", ""), ErrStartLine)
	f("two spaces", msg("INVITE  sip:x@y SIP/2.0", "", ""), ErrStartLine)
	f("trailing space", msg("INVITE sip:x@y SIP/2.0 ", "", ""), ErrStartLine)
	f("space in Request-URI", msg("INVITE sip:x@y; lr SIP/2.0", "", ""), ErrStartLine)
	f("tab separator", msg("INVITE\tsip:x@y SIP/2.0", "", ""), ErrStartLine)
	f("no scheme", msg("INVITE x@y SIP/2.0", "", ""), ErrStartLine)
	f("empty after scheme", msg("INVITE sip: SIP/2.0", "", ""), ErrStartLine)
	f("scheme starting with digit", msg("INVITE 1sip:x SIP/2.0", "", ""), ErrStartLine)
	f("quote in Request-URI", msg(`INVITE sip:"x"@y SIP/2.0`, "", ""), ErrStartLine)
	f("folded start line", msg("INVITE sip:x@y", " SIP/2.0", "", ""), ErrStartLine)

	// Header lines (§7.3): what was read before the bad line is kept.
	f("header without colon", msg("INVITE sip:x@y SIP/2.0", "Call-ID: a", "CSeq 1 INVITE", "", ""), ErrHeader,
		"method=INVITE", "uri=sip:x@y", "call_id=a", "headers=2", "kind=invalid")
	f("space in header name", msg("SIP/2.0 200 OK", "Call ID: a", "", ""), ErrHeader, "status=200", "reason=OK")
	f("header name not a token", msg("INVITE sip:x@y SIP/2.0", "Call@ID: a", "", ""), ErrHeader)
	f("empty header name", msg("INVITE sip:x@y SIP/2.0", ": a", "", ""), ErrHeader)
	f("continuation first", msg("INVITE sip:x@y SIP/2.0", " Call-ID: a", "", ""), ErrHeader)
	f("CR inside the empty line", "INVITE sip:x@y SIP/2.0\r\n\rX\r\n\r\n", ErrHeader)
	f("binary after start line", "INVITE sip:x@y SIP/2.0\r\n\x00\x01\x02\r\n\r\n", ErrHeader, "method=INVITE")

	many := []string{"OPTIONS sip:x SIP/2.0"}
	for range 10000 {
		many = append(many, "X: v")
	}
	f("10k headers", msg(append(many, "", "")...), ErrTooManyHeaders, "method=OPTIONS")
	f("MaxHeaders+1 headers", msg(append(many[:MaxHeaders+2], "", "")...), ErrTooManyHeaders)

	// Truncation: a line without its line end.
	f("start line without line end", "INVITE sip:x@y SIP/2.0", ErrTruncated, "method=INVITE")
	f("header without line end", msg("INVITE sip:x@y SIP/2.0", "Call-ID: abc"), ErrTruncated, "method=INVITE", "call_id=")
	f("name without line end", msg("INVITE sip:x@y SIP/2.0", "Via"), ErrTruncated)
	f("folded header without line end", msg("INVITE sip:x@y SIP/2.0", "Call-ID: a", " b"), ErrTruncated)
}

func TestParse_Reuse(t *testing.T) {
	// A Message reused for a smaller message must not keep anything of the
	// previous one, and Reset keeps the scratch buffer.
	var m Message
	big := msg("INVITE sip:b@x SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bKa", "From: <sip:a@x>;tag=1",
		"To: <sip:b@x>;tag=2", "Call-ID: c", "CSeq: 1 INVITE", "Contact: <sip:a@h>", "User-Agent: a", " b",
		"Content-Type: a/b", "Content-Length: 1", "", "x")
	if err := Parse([]byte(big), &m); err != nil {
		t.Fatal(err)
	}
	scratch := cap(m.scratch)
	if scratch == 0 {
		t.Fatal("folded User-Agent did not use the scratch buffer")
	}
	if err := Parse([]byte("SIP/2.0 100 Trying\r\n\r\n"), &m); err != nil {
		t.Fatal(err)
	}
	want := Message{Kind: hepvault.KindResponse, StatusCode: 100, ContentLength: -1}
	got := m
	got.Version, got.Reason, got.Body, got.scratch = nil, nil, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unexpected message; got %+v; want %+v", got, want)
	}
	if cap(m.scratch) != scratch {
		t.Errorf("unexpected scratch capacity; got %d; want %d", cap(m.scratch), scratch)
	}
	bigb := []byte(big)
	allocs := testing.AllocsPerRun(100, func() { _ = Parse(bigb, &m) })
	if allocs != 0 {
		t.Errorf("unexpected allocations with a folded header and a warm scratch; got %v; want 0", allocs)
	}
}

var invite = []byte("SUBSCRIBE")

func TestMethodOf(t *testing.T) {
	for m := MethodInvite; m < MethodOther; m++ {
		if got := MethodOf([]byte(m.String())); got != m {
			t.Errorf("unexpected method for %q; got %v; want %v", m.String(), got, m)
		}
	}
	f := func(in string, want Method) {
		t.Helper()
		if got := MethodOf([]byte(in)); got != want {
			t.Errorf("unexpected method for %q; got %v; want %v", in, got, want)
		}
	}
	if a := testing.AllocsPerRun(10, func() { _ = MethodOf(invite) }); a != 0 {
		t.Errorf("unexpected allocations; got %v; want 0", a)
	}
	f("", MethodNone)
	f("invite", MethodOther)
	f("INVITEX", MethodOther)
	f("FOO", MethodOther)
	if MethodOther.String() != "other" || MethodNone.String() != "" || Method(200).String() != "other" {
		t.Error("unexpected String of MethodOther, MethodNone or out of range")
	}
}

func TestSummary_NotParsed(t *testing.T) {
	var m Message
	if got := m.Summary(); got != "invalid: not parsed" {
		t.Errorf("unexpected summary; got %q", got)
	}
}
