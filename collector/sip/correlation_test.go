package sip

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hepvault/hepvault/internal/fixture"
)

var testCorrelation = []CorrelationHeader{{Name: "p-charging-vector", Param: "icid-value"}, {Name: "x-leg"}}

func TestParseWith_Correlation(t *testing.T) {
	f := func(name string, headers []CorrelationHeader, want string, lines ...string) {
		t.Helper()
		var m Message
		buf := []byte(msg(append([]string{"INVITE sip:b@x SIP/2.0", "Call-ID: leg-b"}, append(lines, "", "")...)...))
		if err := ParseWith(buf, &m, headers); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := string(m.Correlation); got != want {
			t.Fatalf("%s: unexpected correlation; got %q; want %q", name, got, want)
		}
	}
	f("X-CID", nil, "leg-a@10.0.0.1", "X-CID: leg-a@10.0.0.1")
	f("X-Call-ID, any case, spaces", nil, "leg-a", "x-call-id :   leg-a  ")
	f("none", nil, "", "Subject: X-CID: no")
	f("the first correlating header wins", testCorrelation, "icid-1", "P-Charging-Vector: icid-value=icid-1", "X-CID: leg-a")
	f("X-CID before a named header", testCorrelation, "leg-a", "X-CID: leg-a", "X-Leg: other")
	f("an empty X-CID correlates nothing", nil, "leg-a", "X-CID:", "X-Call-ID: leg-a")
	f("a named header", testCorrelation, "7", "X-Leg: 7")
	f("a named header not asked for", nil, "", "X-Leg: 7")
	f("icid-value first, RFC 7315", testCorrelation, "1234bc9876e",
		"P-Charging-Vector: icid-value=1234bc9876e;icid-generated-at=192.0.6.8;orig-ioi=home1.net")
	f("icid-value after another parameter", testCorrelation, "ab",
		"P-Charging-Vector: orig-ioi=home1.net; ICID-Value = ab ;term-ioi=x")
	f("icid-value quoted", testCorrelation, "a b", `P-Charging-Vector: icid-value="a b"`)
	f("no icid-value", testCorrelation, "7", "P-Charging-Vector: orig-ioi=home1.net", "X-Leg: 7")
	f("folded", testCorrelation, "a b", "X-Leg: a", " b")
}

func TestParseCorrelationHeader(t *testing.T) {
	f := func(in string, want CorrelationHeader) {
		t.Helper()
		got, err := ParseCorrelationHeader(in)
		if err != nil || got != want {
			t.Fatalf("%q: unexpected %+v (%v); want %+v", in, got, err, want)
		}
		if back, _ := ParseCorrelationHeader(got.String()); back != got {
			t.Fatalf("%q: String %q does not read back", in, got.String())
		}
	}
	f("P-Charging-Vector;icid-value", CorrelationHeader{"p-charging-vector", "icid-value"})
	f(" X-Leg ", CorrelationHeader{Name: "x-leg"})
	f("X-Leg ; ID", CorrelationHeader{"x-leg", "id"})
	for _, bad := range []string{"", ";icid-value", "X Leg", "X-Leg;", "X-Leg;a b", "X-Leg:"} {
		if _, err := ParseCorrelationHeader(bad); err == nil {
			t.Fatalf("%q: unexpected success", bad)
		}
	}
}

// FuzzParseWith checks ParseWith with correlating headers named: what Parse
// holds, the correlation within the input or the scratch buffer, and
// without names the same result as Parse.
func FuzzParseWith(f *testing.F) {
	for _, b := range fixture.HEP(f, fixture.LegsPcap) {
		if i := bytes.Index(b, []byte("INVITE ")); i >= 0 {
			f.Add(b[i:])
		}
	}
	for _, s := range []string{
		"INVITE sip:x SIP/2.0\r\nP-Charging-Vector: icid-value=\"a\r\n b\";x=1\r\nX-CID: \r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nP-Charging-Vector:icid-value\r\nX-Leg: a\r\n\tb\r\n\r\n",
		"SIP/2.0 200 OK\r\nx-call-id: \"\r\nP-Charging-Vector: ;;icid-value=;icid-value=\"\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		var m, plain Message
		err := ParseWith(buf, &m, testCorrelation)
		if err != nil {
			if !errors.Is(err, m.Err) {
				t.Fatalf("unexpected Err %v for error %v", m.Err, err)
			}
		}
		checkInvariants(t, buf, &m, err)
		err2 := ParseWith(buf, &plain, nil)
		var want Message
		err3 := Parse(buf, &want)
		if (err2 == nil) != (err3 == nil) || !bytes.Equal(plain.Correlation, want.Correlation) || !bytes.Equal(plain.CallID, want.CallID) {
			t.Fatalf("ParseWith without headers differs from Parse: %v %q; want %v %q", err2, plain.Correlation, err3, want.Correlation)
		}
	})
}
