package sip

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
)

// FuzzParse checks what must hold for any input: no panic, an error wraps
// exactly one sentinel, fields lie within the input or the scratch buffer,
// Kind agrees with the start line, and a reused Message parses the same as
// a new one.
func FuzzParse(f *testing.F) {
	for _, name := range []string{fixture.HEP3, fixture.HEP2} {
		for _, r := range fixture.Load(f, name) {
			f.Add(r.SIP())
		}
	}
	paths, _ := filepath.Glob(filepath.Join("testdata", "*", "*.sip"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "\r\n", "SIP/2.0 200", "SIP/2.0 99 Low", "INVITE sip:x SIP/2.0",
		"INVITE sip:x SIP/2.0\nv: SIP/2.0/UDP h;branch=b, SIP/2.0/UDP g\nf: \"a;<\" <sip:a>;tag=1\n\nbody",
		"BYE sip:b@x SIP/2.0\r\nUser-Agent: a\r\n b\r\nm: <sip:x>;\r\n\texpires=1\r\ni: x\r\n y\r\n\r\n",
		"MESSAGE sip:x SIP/2.0\r\nl: 99999999999999999999999\r\n\r\nx",
		"INVITE sip:%2B49%zz@h SIP/2.0\r\nP-Asserted-Identity: \"a, b\" <sip:x:pw@h>, <tel:+1>\r\n" +
			"f: <sips:%41%4@h>;tag=1\r\nt: <tel:+49-30;x=y>\r\n\r\n",
		"OPTIONS sip:x SIP/2.0\r\nP-Asserted-Identity: tel:%31;a, sip:b@h\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	warm := []byte("INVITE sip:b@x SIP/2.0\r\nUser-Agent: a\r\n b\r\nCall-ID: c\r\nContent-Length: 1\r\n\r\nx")

	f.Fuzz(func(t *testing.T, buf []byte) {
		orig := bytes.Clone(buf)
		var m Message
		err := Parse(buf, &m)
		if !bytes.Equal(buf, orig) {
			t.Fatal("Parse wrote to its input")
		}
		if err != nil {
			sentinelOf(t, err)
			if m.Kind != hepvault.KindInvalid || m.Err != err {
				t.Fatalf("unexpected kind %v and Err %v for error %v", m.Kind, m.Err, err)
			}
		} else if m.Err != nil || m.Kind == hepvault.KindInvalid {
			t.Fatalf("unexpected kind %v and Err %v without error", m.Kind, m.Err)
		}
		_ = m.Summary()
		checkInvariants(t, buf, &m, err)

		// The same input into a used Message gives the same result.
		var reused Message
		_ = Parse(warm, &reused)
		err2 := Parse(buf, &reused)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("unexpected error on reuse; got %v; want %v", err2, err)
		}
		if g1, g2 := goldenOf(t, &m), goldenOf(t, &reused); !reflect.DeepEqual(g1, g2) {
			t.Fatalf("unexpected result on reuse; got %+v; want %+v", g2, g1)
		}
	})
}

func checkInvariants(t *testing.T, buf []byte, m *Message, err error) {
	t.Helper()
	fields := map[string][]byte{
		"Method": m.Method, "RequestURI": m.RequestURI, "Reason": m.Reason, "Version": m.Version,
		"CallID": m.CallID, "CSeqMethod": m.CSeqMethod, "FromURI": m.FromURI, "FromTag": m.FromTag,
		"ToURI": m.ToURI, "ToTag": m.ToTag, "PAIURI": m.PAIURI, "ViaBranch": m.ViaBranch,
		"UserAgent": m.UserAgent, "Contact": m.Contact, "ContentType": m.ContentType, "Body": m.Body,
		"Correlation": m.Correlation,
	}
	scratch := m.scratch[:cap(m.scratch)]
	for name, b := range fields {
		if len(b) > 0 && !within(b, buf) && !within(b, scratch) {
			t.Fatalf("%s %q lies outside the input and the scratch buffer", name, b)
		}
	}
	if len(m.Body) > 0 && !within(m.Body, buf) {
		t.Fatalf("Body lies outside the input")
	}
	uris := map[string][]byte{"From": m.FromURI, "To": m.ToURI, "Request-URI": m.RequestURI, "PAI": m.PAIURI}
	for name, uri := range uris {
		if len(uri) > 0 && !within(uri, buf) {
			t.Fatalf("%s URI %q lies outside the input", name, uri)
		}
		checkUser(t, name, uri)
	}
	if m.ContentLength < -1 || m.ContentLength >= 0 && len(m.Body) > m.ContentLength {
		t.Fatalf("unexpected Content-Length %d for a body of %d", m.ContentLength, len(m.Body))
	}
	if m.HeaderCount < 0 || m.HeaderCount > MaxHeaders {
		t.Fatalf("unexpected header count %d", m.HeaderCount)
	}
	if len(m.Method) > 0 && m.StatusCode != 0 {
		t.Fatalf("both a method %q and a status code %d", m.Method, m.StatusCode)
	}

	// The start line, when read, is the first line of buf after any CRLF.
	line := bytes.TrimLeft(buf, "\r\n")
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = trimCR(line)
	switch {
	case len(m.Method) > 0:
		if !isToken(m.Method) || len(m.RequestURI) == 0 || len(m.Version) == 0 {
			t.Fatalf("unexpected request line %q %q %q", m.Method, m.RequestURI, m.Version)
		}
		want := string(m.Method) + " " + string(m.RequestURI) + " " + string(m.Version)
		if string(line) != want {
			t.Fatalf("unexpected request line; got %q; want %q", want, line)
		}
	case m.StatusCode != 0:
		if m.StatusCode < 100 || m.StatusCode > 699 {
			t.Fatalf("unexpected status code %d", m.StatusCode)
		}
		want := string(m.Version) + " " + strconv.Itoa(m.StatusCode)
		if string(line) != want && string(line) != want+" "+string(m.Reason) {
			t.Fatalf("unexpected status line; got %q and %q; want %q", want, m.Reason, line)
		}
	default:
		if len(m.RequestURI)+len(m.Reason)+len(m.Version) > 0 {
			t.Fatal("start-line fields without a method or status code")
		}
	}
	switch m.Kind {
	case hepvault.KindRequest:
		if len(m.Method) == 0 {
			t.Fatal("a request without a method")
		}
	case hepvault.KindResponse:
		if m.StatusCode == 0 {
			t.Fatal("a response without a status code")
		}
	case hepvault.KindInvalid:
		if err == nil {
			t.Fatal("invalid without an error")
		}
	default:
		t.Fatalf("unexpected kind %d", m.Kind)
	}
}

// checkUser checks URIUser(uri): the user as written lies in uri, after a
// scheme that has users, and the result is that user percent-decoded as a
// regular expression decodes it; it aliases the user when nothing was
// decoded and is a copy otherwise.
func checkUser(t *testing.T, name string, uri []byte) {
	t.Helper()
	user := URIUser(uri)
	raw, pct := rawUser(uri)
	if len(raw) > 0 && !within(raw, uri) {
		t.Fatalf("%s user %q lies outside its URI %q", name, raw, uri)
	}
	scheme, _, _ := bytes.Cut(uri, []byte(":"))
	if s := strings.ToLower(string(scheme)); len(raw) > 0 && s != "sip" && s != "sips" && s != "tel" {
		t.Fatalf("%s user %q in a URI of scheme %q", name, raw, scheme)
	}
	want := escapeRE.ReplaceAllFunc(raw, func(e []byte) []byte {
		n, err := strconv.ParseUint(string(e[1:]), 16, 8)
		if err != nil {
			t.Fatalf("escape %q: %v", e, err)
		}
		return []byte{byte(n)}
	})
	if pct != bytes.Contains(raw, []byte("%")) {
		t.Fatalf("unexpected %% flag %v for the %s user %q", pct, name, raw)
	}
	if !bytes.Equal(user, want) {
		t.Fatalf("unexpected %s user of %q; got %q; want %q", name, uri, user, want)
	}
	decoded := len(want) != len(raw)
	switch {
	case len(user) == 0:
	case decoded && within(user, uri):
		t.Fatalf("%s user %q decoded in place in %q", name, user, uri)
	case !decoded && unsafe.SliceData(user) != unsafe.SliceData(raw):
		t.Fatalf("%s user %q copied though nothing was decoded", name, user)
	}
}

var escapeRE = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// within reports whether b lies inside s (shares its memory).
func within(b, s []byte) bool {
	if len(b) == 0 || len(s) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(s))
}
