package collector

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// buildSIP builds the packet of one SIP payload, as the listeners do.
func buildSIP(payload string) hepvault.Packet {
	hp := hep.Packet{Version: 3, Proto: 17, ProtoType: hep.ProtoTypeSIP, Payload: []byte(payload)}
	var m sip.Message
	return build(&hp, &m, sip.Parse(hp.Payload, &m), time.Unix(1795609948, 0), 1)
}

// inRaw reports whether s is a substring over p.Raw's memory.
func inRaw(p *hepvault.Packet, s string) bool {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(p.Raw)))
	at := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return at >= lo && at+uintptr(len(s)) <= lo+uintptr(len(p.Raw))
}

func TestBuild_Users(t *testing.T) {
	f := func(lines, want string) {
		t.Helper()
		p := buildSIP(strings.ReplaceAll(lines, "|", "\r\n"))
		got := strings.Join([]string{p.FromUser, p.ToUser, p.RURIUser, p.PAIUser}, "|")
		if got != want {
			t.Errorf("unexpected users (from|to|ruri|pai) of %q; got %q; want %q", lines, got, want)
		}
	}
	f("INVITE sip:bob@b.example SIP/2.0|From: \"Alice\" <sip:alice@a.example>;tag=1|To: <sip:bob@b.example>|"+
		"P-Asserted-Identity: \"Alice\" <sip:+4930123@a.example;user=phone>, <tel:+4930123>||",
		"alice|bob|bob|+4930123")
	f("INVITE tel:+49-30-7741528;phone-context=x SIP/2.0|f: <tel:7741528;phone-context=+49-30>;tag=1|t: <sips:b:pw@h>||",
		"7741528|b|+49-30-7741528|")
	f("SIP/2.0 200 OK|From: <sip:alice@a>;tag=1|To: <sip:bob@b>;tag=2||", "alice|bob||") // a response has no Request-URI
	f("OPTIONS sip:host SIP/2.0|From: <sip:host>;tag=1|To: <mailto:x@y>||", "|||")
	f("INVITE sip:%2B4930@h SIP/2.0|From: <sip:I%20have%20spaces@a>;tag=1|To: <sip:%zz@b>|P-Asserted-Identity: <sip:%61@h>||",
		"I have spaces|%zz|+4930|a")
}

// TestBuild_UsersShareRaw checks that a user written without escapes is a
// substring of Raw, costing nothing, and a decoded one a string apart.
func TestBuild_UsersShareRaw(t *testing.T) {
	p := buildSIP("INVITE sip:bob@b SIP/2.0\r\nFrom: <sip:alice@a>;tag=1\r\nTo: <sip:b%6Fb@b>\r\n" +
		"P-Asserted-Identity: <tel:+4930>\r\n\r\n")
	for _, u := range []string{p.FromUser, p.RURIUser, p.PAIUser} {
		if !inRaw(&p, u) {
			t.Errorf("unexpected copy of user %q; want a substring of Raw", u)
		}
	}
	if p.ToUser != "bob" || inRaw(&p, p.ToUser) {
		t.Errorf("unexpected decoded user %q (in Raw: %v); want bob, apart", p.ToUser, inRaw(&p, p.ToUser))
	}
}

// TestBuild_UsersInvalid: what was parsed is kept when a later header is broken.
func TestBuild_UsersInvalid(t *testing.T) {
	p := buildSIP("INVITE sip:bob@b SIP/2.0\r\nFrom: <sip:alice@a>;tag=1\r\nP-Asserted-Identity: tel:+1\r\nnot a header\r\n\r\n")
	if p.Kind != hepvault.KindInvalid {
		t.Fatalf("unexpected kind %s; want invalid", p.Kind)
	}
	if got := strings.Join([]string{p.FromUser, p.ToUser, p.RURIUser, p.PAIUser}, "|"); got != "alice||bob|+1" {
		t.Errorf("unexpected users (from|to|ruri|pai) of an invalid message; got %q; want %q", got, "alice||bob|+1")
	}
}

// TestBuild_Allocs holds build to one allocation, the payload's copy, when
// no user has escapes to decode, and counts the two of a decoded one.
func TestBuild_Allocs(t *testing.T) {
	f := func(payload string, want float64) {
		t.Helper()
		hp := hep.Packet{Version: 3, Proto: 17, ProtoType: hep.ProtoTypeSIP, Payload: []byte(payload)}
		var m sip.Message
		perr := sip.Parse(hp.Payload, &m)
		recv := time.Now()
		if got := testing.AllocsPerRun(100, func() { _ = build(&hp, &m, perr, recv, 1) }); got != want {
			t.Errorf("unexpected allocations for %q; got %v; want %v", payload, got, want)
		}
	}
	f("INVITE sip:bob@b SIP/2.0\r\nFrom: <sip:alice@a>;tag=1\r\nTo: <sip:bob@b>\r\n"+
		"P-Asserted-Identity: <tel:+4930>\r\n\r\n", 1)
	f("INVITE sip:%62ob@b SIP/2.0\r\nFrom: <sip:alice@a>;tag=1\r\n\r\n", 3)
}
