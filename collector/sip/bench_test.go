package sip

import (
	"bytes"
	"os"
	"testing"

	"github.com/hepvault/hepvault/internal/fixture"
)

func fixtureMessages(b *testing.B) [][]byte {
	var msgs [][]byte
	for _, name := range []string{fixture.HEP3, fixture.HEP2} {
		for _, r := range fixture.Load(b, name) {
			msgs = append(msgs, r.SIP())
		}
	}
	return msgs
}

// BenchmarkParse parses every SIP message of both captures per op.
func BenchmarkParse(b *testing.B) {
	msgs := fixtureMessages(b)
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	var m Message
	for b.Loop() {
		for _, buf := range msgs {
			if err := Parse(buf, &m); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}

func benchmarkOne(b *testing.B, buf []byte) {
	b.Helper()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var m Message
	for b.Loop() {
		if err := Parse(buf, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// firstFixture is the first message of the HEP3 capture that starts with
// prefix and carries a body (SDP).
func firstFixture(b *testing.B, prefix string) []byte {
	for _, buf := range fixtureMessages(b) {
		if bytes.HasPrefix(buf, []byte(prefix)) && bytes.Contains(buf, []byte("\r\n\r\nv=0")) {
			return buf
		}
	}
	b.Fatalf("no %q with SDP in the fixtures", prefix)
	return nil
}

func BenchmarkParse_Invite(b *testing.B) { benchmarkOne(b, firstFixture(b, "INVITE ")) }

func BenchmarkParse_200OK(b *testing.B) { benchmarkOne(b, firstFixture(b, "SIP/2.0 200 OK")) }

// BenchmarkParse_Torture is RFC 4475's wsinv: folds everywhere, compact
// forms, odd whitespace.
func BenchmarkParse_Torture(b *testing.B) {
	buf, err := os.ReadFile("testdata/valid/wsinv.sip")
	if err != nil {
		b.Fatal(err)
	}
	benchmarkOne(b, buf)
}

// BenchmarkURIUser takes the users of the From, To, Request-URI and
// P-Asserted-Identity URIs of every message of both captures per op.
func BenchmarkURIUser(b *testing.B) {
	var uris [][]byte
	var m Message
	for _, buf := range fixtureMessages(b) {
		if err := Parse(buf, &m); err != nil {
			b.Fatal(err)
		}
		uris = append(uris, m.FromURI, m.ToURI, m.RequestURI, m.PAIURI)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, u := range uris {
			_ = URIUser(u)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(uris)/4), "ns/msg")
}
