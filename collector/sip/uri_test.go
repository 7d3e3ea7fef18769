package sip

import "testing"

func TestURIUser(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := URIUser([]byte(in)); string(got) != want {
			t.Errorf("unexpected user of %q; got %q; want %q", in, got, want)
		}
	}
	// sip: and sips: (RFC 3261 §19.1.1)
	f("sip:alice@example.com", "alice")
	f("sip:+49307741528@host;user=phone", "+49307741528")
	f("sips:bob:secret@h", "bob")
	f("sip:example.com", "")
	f("sip:example.com:5060;transport=tcp", "")
	f("sip:alice@example.com:5060;transport=tcp?subject=x", "alice")
	f("sip:+1-212-555-1212:1234@gateway.com;user=phone", "+1-212-555-1212") // §19.1.3
	f("sip:bob:@h", "bob")
	f("sip:@h", "")
	f("sip:user;par=u%40example.net@example.com", "user;par=u@example.net") // RFC 4475 §3.1.1.12
	f("sip:alice@[2001:db8::1]:5060", "alice")
	f("SIP:Alice@Example.com", "Alice") // the scheme has no case, the user has (§19.1.4)
	f("SiPs:x@y", "x")
	// tel: (RFC 3966)
	f("tel:+49-30-7741528", "+49-30-7741528")
	f("tel:7741528;phone-context=+49-30", "7741528")
	f("TEL:+1234;ext=5", "+1234")
	f("tel:", "")
	// Escapes: decoded; a '%' without two hex digits is kept.
	f("sip:%2B4930@h", "+4930")
	f("sip:%2b4930@h", "+4930")
	f("sip:sips%3Auser%40example.com@example.net", "sips:user@example.com") // RFC 4475 §3.1.1.4
	f("sip:I%20have%20spaces@example.net", "I have spaces")
	f("sip:null-%00-null@example.com", "null-\x00-null")
	f("sip:%41@h", "A")
	f("sip:100%@h", "100%")
	f("sip:100%2@h", "100%2")
	f("sip:%zz%4@h", "%zz%4")
	f("sip:%%41%@h", "%A%")
	f("sip:%41%42x%43@h", "ABxC")
	f("tel:%2B49%2D30", "+49-30")
	// No user: other schemes, no scheme, nothing.
	f("mailto:alice@example.com", "")
	f("urn:service:sos", "")
	f("alice@example.com", "")
	f("", "")
	f(":alice@h", "")
}

func TestURIUser_Aliasing(t *testing.T) {
	uri := []byte("sip:alice@example.com")
	if got := URIUser(uri); !within(got, uri) {
		t.Errorf("unexpected copy; got %q outside the URI", got)
	}
	if a := testing.AllocsPerRun(100, func() { _ = URIUser(uri) }); a != 0 {
		t.Errorf("unexpected allocations without escapes; got %v; want 0", a)
	}
	bad := []byte("sip:100%zz@h")
	if a := testing.AllocsPerRun(100, func() { _ = URIUser(bad) }); a != 0 {
		t.Errorf("unexpected allocations with an invalid escape; got %v; want 0", a)
	}
	esc := []byte("sip:%2B4930@h")
	got := URIUser(esc)
	if within(got, esc) {
		t.Errorf("unexpected aliasing of the input; got %q", got)
	}
	if a := testing.AllocsPerRun(100, func() { _ = URIUser(esc) }); a != 1 {
		t.Errorf("unexpected allocations with an escape; got %v; want 1", a)
	}
}

// TestParse_Users checks the URIs Parse finds for the users: From, To and
// P-Asserted-Identity values, as a header of an INVITE.
func TestParse_Users(t *testing.T) {
	f := func(header, wantURI, wantUser string) {
		t.Helper()
		var m Message
		if err := Parse([]byte(msg("INVITE sip:x@y SIP/2.0", header, "", "")), &m); err != nil {
			t.Fatalf("unexpected error for %q: %v", header, err)
		}
		uri := m.FromURI
		switch {
		case len(m.ToURI) > 0:
			uri = m.ToURI
		case len(m.PAIURI) > 0:
			uri = m.PAIURI
		}
		if string(uri) != wantURI {
			t.Errorf("unexpected URI of %q; got %q; want %q", header, uri, wantURI)
		}
		if got := URIUser(uri); string(got) != wantUser {
			t.Errorf("unexpected user of %q; got %q; want %q", header, got, wantUser)
		}
	}
	f("From: <sip:alice@h>;tag=1", "sip:alice@h", "alice")
	f(`From: "Alice" <sips:alice:pw@h;transport=tls>;tag=1`, "sips:alice:pw@h;transport=tls", "alice")
	f("f: sip:+4930@h;tag=1", "sip:+4930@h", "+4930")
	f("f: sip:+4930;npdi@h;tag=1", "sip:+4930", "") // without <>, ';' starts the header's parameters (§20.10)
	f("To: <tel:+49-30-7741528;phone-context=x>", "tel:+49-30-7741528;phone-context=x", "+49-30-7741528")
	f("t: Bob <sip:%62ob@h>", "sip:%62ob@h", "bob")

	// P-Asserted-Identity (RFC 3325 §9.1): the first value's URI.
	f(`P-Asserted-Identity: "Cullen Jennings" <sip:fluffy@cisco.com>`, "sip:fluffy@cisco.com", "fluffy")
	f("P-Asserted-Identity: <tel:+14085264000>", "tel:+14085264000", "+14085264000")
	f("P-Asserted-Identity: tel:+14085264000", "tel:+14085264000", "+14085264000")
	f(`P-Asserted-Identity: "Cullen Jennings" <sip:fluffy@cisco.com>, <tel:+14085264000>`, "sip:fluffy@cisco.com", "fluffy")
	f("P-Asserted-Identity: <tel:+14085264000>, <sip:fluffy@cisco.com>", "tel:+14085264000", "+14085264000")
	f("P-Asserted-Identity: sip:fluffy@cisco.com, tel:+14085264000", "sip:fluffy@cisco.com", "fluffy")
	f("P-Asserted-Identity: sip:fluffy@cisco.com;user=x, tel:+1", "sip:fluffy@cisco.com", "fluffy")
	f(`P-Asserted-Identity: "Jennings, Cullen" <sip:fluffy@cisco.com>, <tel:+1>`, "sip:fluffy@cisco.com", "fluffy")
	f(`P-Asserted-Identity: <sip:a,b@h>, <tel:+1>`, "sip:a,b@h", "a,b")
	f("p-asserted-IDENTITY :  <sip:x@h>  ", "sip:x@h", "x")
	f("P-Asserted-Identity:\r\n <sip:folded@h>,\r\n <tel:+1>", "sip:folded@h", "folded")
	f(`P-Asserted-Identity: "unterminated <sip:x@h>`, "", "")
	f("P-Asserted-Identity: <sip:x@h", "", "")
	f("P-Asserted-Identity:", "", "")
}

func TestParse_PAIFirstHeaderWins(t *testing.T) {
	var m Message
	in := msg("INVITE sip:x@y SIP/2.0", `P-Asserted-Identity: "Cullen Jennings" <sip:fluffy@cisco.com>`,
		"P-Asserted-Identity: tel:+14085264000", "", "")
	if err := Parse([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.PAIURI), "sip:fluffy@cisco.com"; got != want {
		t.Errorf("unexpected P-Asserted-Identity URI; got %q; want %q", got, want)
	}
	if m.HeaderCount != 2 {
		t.Errorf("unexpected header count; got %d; want 2", m.HeaderCount)
	}
}
