package callflow

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestLadder_Golden draws real calls and compares them with the drawings
// in testdata/*.ladder (go test -run Ladder_Golden -update rewrites them;
// read the diff before committing).
func TestLadder_Golden(t *testing.T) {
	calls := hep3Calls(t)
	sipp, _ := readCalls(t, fixture.SIPPTCPPcap)
	answered := calls[answeredID]
	start := first(answered)
	midnight := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, time.UTC)
	// A host that sends to itself: the OPTIONS the proxy answers, its
	// request addressed back to its sender.
	hairpin := slices.Clone(calls[optionsID])
	for i := range hairpin {
		if hairpin[i].Kind == hepvault.KindRequest {
			hairpin[i].DstIP, hairpin[i].DstPort = hairpin[i].SrcIP, hairpin[i].SrcPort
		}
	}
	f := func(name string, pkts []hepvault.Packet, opts LadderOptions) {
		t.Helper()
		var b bytes.Buffer
		if err := Ladder(&b, pkts, opts); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join("testdata", name+".ladder")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run with -update to create it)", name, err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Fatalf("%s: unexpected ladder; got\n%s\nwant\n%s", name, b.Bytes(), want)
		}
	}
	f("answered", answered, LadderOptions{})
	f("answered-60", answered, LadderOptions{Width: 60})
	f("cancelled", calls[cancelledID], LadderOptions{})
	f("busy", calls[busyID], LadderOptions{Width: 100})
	f("notfound-duplicate-ack", calls[notFoundID], LadderOptions{})
	f("register", calls[registerID], LadderOptions{})
	f("midnight", shifted(answered, midnight.Add(-time.Millisecond).Sub(start)), LadderOptions{})
	f("hairpin", hairpin, LadderOptions{})
	f("sipp-tcp", sipp["1-16390@127.0.0.1"], LadderOptions{Width: 80})
}

// TestLadder_Shape checks, on every call of every fixture and several
// widths, what any ladder must be: no line wider than asked, one line per
// packet with its time, and every arrow pointing from sender to receiver.
func TestLadder_Shape(t *testing.T) {
	files := append([]string{fixture.HEP3 + ".pcap", fixture.HEP2 + ".pcap"}, fixture.PlainSIP...)
	for _, file := range files {
		calls, order := readCalls(t, file)
		for _, id := range order {
			pkts := calls[id]
			for _, width := range []int{0, 40, 72, 120, 200} {
				var b bytes.Buffer
				if err := Ladder(&b, pkts, LadderOptions{Width: width}); err != nil {
					t.Fatal(err)
				}
				w := width
				if w == 0 {
					w = DefaultWidth
				}
				arrows := 0
				for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
					if n := utf8.RuneCountInString(line); n > w {
						t.Fatalf("%s %s width %d: unexpected line of %d characters: %q", file, id, width, n, line)
					}
					if strings.Contains(line, ">") || strings.Contains(line, "<") {
						arrows++
					}
				}
				if arrows != len(pkts) {
					t.Fatalf("%s %s width %d: unexpected arrow count; got %d; want %d packets\n%s", file, id, width, arrows, len(pkts), b.String())
				}
			}
		}
	}
}

func TestLabel(t *testing.T) {
	calls := hep3Calls(t)
	f := func(match func(p *hepvault.Packet) bool, want string) {
		t.Helper()
		p := pick(t, calls[answeredID], match)
		if got := Label(&p); got != want {
			t.Fatalf("unexpected label; got %q; want %q", got, want)
		}
	}
	f(func(p *hepvault.Packet) bool { return p.Method == "INVITE" }, "INVITE (SDP)")
	f(func(p *hepvault.Packet) bool { return p.StatusCode == 180 }, "180 Ringing")
	f(func(p *hepvault.Packet) bool { return p.StatusCode == 200 && p.CSeqMethod == "INVITE" }, "200 OK (SDP)")
	f(func(p *hepvault.Packet) bool { return p.Method == "BYE" }, "BYE")
	if got := Label(&hepvault.Packet{Kind: hepvault.KindInvalid}); got != "invalid" {
		t.Fatalf("unexpected label of an invalid packet; got %q", got)
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestLadder_WriteError(t *testing.T) {
	calls := hep3Calls(t)
	if err := Ladder(failWriter{}, calls[answeredID], LadderOptions{}); !errors.Is(err, errWrite) {
		t.Fatalf("unexpected error; got %v; want %v", err, errWrite)
	}
	if err := Ladder(&bytes.Buffer{}, nil, LadderOptions{}); err != nil {
		t.Fatalf("unexpected error for no packets; got %v", err)
	}
}
