package siprec

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hepvault/hepvault/internal/fixture"
)

// metadataTruth is one line of testdata/kamailio-siprec.metadata.tsv: an
// INVITE with metadata as tshark's XML dissector read it.
type metadataTruth struct {
	frame  int
	callID string
	cseq   int
	attrs  []string // name="value", in document order
	texts  []string
}

func loadMetadataTruth(tb testing.TB) []metadataTruth {
	tb.Helper()
	f, err := os.Open(filepath.Join(fixture.Dir(tb), "kamailio-siprec.metadata.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []metadataTruth
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 5 {
			tb.Fatalf("metadata truth: line %q: want 5 fields", sc.Text())
		}
		frame, err1 := strconv.Atoi(c[0])
		cseq, err2 := strconv.Atoi(c[2])
		if err1 != nil || err2 != nil {
			tb.Fatalf("metadata truth: line %q", sc.Text())
		}
		out = append(out, metadataTruth{frame, c[1], cseq, strings.Split(c[3], "|"), strings.Split(c[4], "|")})
	}
	if len(out) == 0 {
		tb.Fatal("metadata truth: empty")
	}
	return out
}

// siprecMessages returns the SIP messages of the SIPREC capture by frame
// number - 1 (nil for a frame that is not UDP).
func siprecMessages(tb testing.TB) [][]byte {
	tb.Helper()
	grams, err := fixture.UDPPayloads(filepath.Join(fixture.Dir(tb), "kamailio-siprec.pcap"))
	if err != nil {
		tb.Fatal(err)
	}
	return grams
}

// attr returns the values of the attributes named name.
func attr(attrs []string, name string) []string {
	var vs []string
	for _, a := range attrs {
		if v, ok := strings.CutPrefix(a, name+`="`); ok {
			vs = append(vs, strings.TrimSuffix(v, `"`))
		}
	}
	return vs
}

// TestRead_Fixture reads every INVITE of the capture that tshark found
// metadata in, and holds what Read finds to what tshark read.
func TestRead_Fixture(t *testing.T) {
	msgs := siprecMessages(t)
	truth := loadMetadataTruth(t)
	partial := 0
	for _, tr := range truth {
		m := Read(msgs[tr.frame-1])
		if !m.Recording || m.Err != nil || m.Metadata == nil {
			t.Fatalf("frame %d: unexpected reading: recording %v, error %v, metadata %v", tr.frame, m.Recording, m.Err, m.Metadata)
		}
		md := m.Metadata
		if md.DataMode != tr.texts[0] {
			t.Fatalf("frame %d: unexpected data mode; got %q; want %q", tr.frame, md.DataMode, tr.texts[0])
		}
		var aors, names, labels, callIDs []string
		for _, p := range md.Participants {
			aors, names = append(aors, p.AOR), append(names, p.Name)
		}
		for _, s := range md.Streams {
			labels = append(labels, s.Label)
		}
		for _, s := range md.Sessions {
			callIDs = append(callIDs, s.CallIDs...)
			for _, id := range s.SIPSessionIDs {
				if !slices.Contains(tr.texts, id) {
					t.Fatalf("frame %d: sipSessionID %q not among tshark's texts %q", tr.frame, id, tr.texts)
				}
			}
		}
		if want := attr(tr.attrs, "aor"); !slices.Equal(aors, want) {
			t.Fatalf("frame %d: unexpected participants; got %q; want %q", tr.frame, aors, want)
		}
		// Names and labels are texts of tshark's in document order.
		for _, v := range append(append(names, labels...), callIDs...) {
			if !slices.Contains(tr.texts, v) {
				t.Fatalf("frame %d: %q is not among tshark's texts %q", tr.frame, v, tr.texts)
			}
		}
		for _, text := range tr.texts {
			if strings.HasPrefix(text, "siprec-") && !slices.Contains(callIDs, text) {
				t.Fatalf("frame %d: Call-ID %q of the metadata not read; got %q", tr.frame, text, callIDs)
			}
		}
		if got, want := len(md.Streams), len(attr(tr.attrs, "stream_id")); got != want {
			t.Fatalf("frame %d: unexpected streams; got %d; want %d", tr.frame, got, want)
		}
		if md.DataMode == "partial" {
			partial++
			if tr.cseq != 2 {
				t.Fatalf("frame %d: a partial update in CSeq %d; the scenario sends it in the re-INVITE", tr.frame, tr.cseq)
			}
		}
	}
	// Three recordings, each INVITE and re-INVITE seen entering and leaving
	// the proxy.
	if len(truth) != 12 || partial != 6 {
		t.Fatalf("unexpected fixture: %d INVITEs with metadata, %d partial; want 12 and 6", len(truth), partial)
	}
}

// TestRead_NotRecording: the fixture's other messages are not recording
// sessions, and Candidate rules none of the recording ones out.
func TestRead_NotRecording(t *testing.T) {
	msgs := siprecMessages(t)
	rec := map[int]bool{}
	for _, tr := range loadMetadataTruth(t) {
		rec[tr.frame] = true
	}
	n := 0
	for i, b := range msgs {
		if b == nil {
			continue
		}
		m := Read(b)
		isSRC := bytes.Contains(b, []byte("+sip.src")) && bytes.HasPrefix(b, []byte("INVITE "))
		if m.Recording != (rec[i+1] || isSRC) {
			t.Fatalf("frame %d: unexpected recording %v\n%s", i+1, m.Recording, b)
		}
		if m.Err != nil {
			t.Fatalf("frame %d: unexpected error %v", i+1, m.Err)
		}
		if rec[i+1] {
			n++
		}
	}
	if n != 12 {
		t.Fatalf("unexpected recording INVITEs; got %d; want 12", n)
	}
}

// TestRead_Failure breaks the fixture's first recording INVITE in the ways
// an SRC might, and wants the error to say which.
func TestRead_Failure(t *testing.T) {
	msgs := siprecMessages(t)
	orig := msgs[loadMetadataTruth(t)[0].frame-1]
	f := func(name string, edit func(string) string, want error) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			m := Read([]byte(edit(string(orig))))
			if !m.Recording || m.Metadata != nil || !errors.Is(m.Err, want) {
				t.Fatalf("unexpected reading; got recording %v, metadata %v, error %v; want error %v", m.Recording, m.Metadata, m.Err, want)
			}
		})
	}
	f("unclosed element", func(s string) string { return strings.Replace(s, "</participant>", "", 1) }, ErrXML)
	f("truncated", func(s string) string { return s[:strings.Index(s, "<stream ")] + "\r\n--OSRB--\r\n" }, ErrXML)
	f("bad time", func(s string) string {
		return strings.Replace(s, "<associate-time>", "<associate-time>yesterday", 1)
	}, ErrXML)
	f("wrong root", func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "<recording ", "<record "), "</recording>", "</record>")
	}, ErrNotMetadata)
	f("no boundary", func(s string) string { return strings.Replace(s, ";boundary=OSRB", "", 1) }, ErrMultipart)
	f("other boundary", func(s string) string { return strings.Replace(s, "boundary=OSRB", "boundary=XYZ", 1) }, ErrMultipart)
	f("second root", func(s string) string { return strings.Replace(s, "</recording>", "</recording><recording/>", 1) }, ErrXML)
}

func TestCandidate(t *testing.T) {
	f := func(method, ct, contact string, want bool) {
		t.Helper()
		if got := Candidate(method, ct, contact); got != want {
			t.Fatalf("unexpected Candidate(%q, %q, %q); got %v; want %v", method, ct, contact, got, want)
		}
	}
	f("INVITE", "multipart/mixed;boundary=x", "", true)
	f("UPDATE", "application/rs-metadata+xml", "", true)
	f("INVITE", "application/sdp", "<sip:src@h>;+sip.src", true)
	f("INVITE", "application/sdp", "<sip:a@h>", false)
	f("BYE", "multipart/mixed;boundary=x", "", false)
}

func TestCandidate_More(t *testing.T) {
	f := func(ct, contact string, want bool) {
		t.Helper()
		if got := Candidate("INVITE", ct, contact); got != want {
			t.Fatalf("unexpected Candidate(INVITE, %q, %q); got %v; want %v", ct, contact, got, want)
		}
	}
	f(" Multipart/Mixed; boundary=x", "", true)
	f("APPLICATION/RS-METADATA+XML", "", true)
	f("application/sdp", "<sip:src@h>;+sip.instance=\"x\";+SIP.SRC", true)
	f("application/sdp", "<sip:+4930@h>;+sip.instance=\"x\"", false)
	f("text/plain; x=multipart/mixed", "", false)
}
