package capture_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hepvault/hepvault/internal/fixture"
)

// TestRead_Users compares the users of every message of the plain SIP
// captures with tshark's reading of them, testdata/users/<capture>.tsv:
//
//	tshark -r testdata/sip.pcap -Y sip -T fields -e frame.number -e sip.r-uri.user \
//	  -e sip.from.user -e sip.to.user -e sip.pai.user > collector/capture/testdata/users/sip.tsv
//
// (tshark 4.0.17, one line per message, in the order of the .truth.tsv
// files). tshark neither decodes escapes nor drops a ":password"; none of
// these users has either.
func TestRead_Users(t *testing.T) {
	f := func(file string) {
		t.Helper()
		got, _, err := readAll(t, readFixture(t, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := strings.TrimSuffix(strings.TrimSuffix(file, ".pcapng"), ".pcap") + ".tsv"
		b, err := os.ReadFile(filepath.Join("testdata", "users", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != len(got) {
			t.Fatalf("%s: unexpected message count; got %d; want %d", file, len(got), len(lines))
		}
		users := 0
		for i, line := range lines {
			w := strings.Split(line, "\t")
			if len(w) != 5 {
				t.Fatalf("%s: line %q: want 5 tab-separated fields", name, line)
			}
			p := got[i]
			for j, u := range []struct{ field, got string }{
				{"Request-URI user", p.RURIUser}, {"From user", p.FromUser}, {"To user", p.ToUser}, {"P-Asserted-Identity user", p.PAIUser},
			} {
				if u.got != w[j+1] {
					t.Errorf("%s frame %s: unexpected %s; got %q; want %q", file, w[0], u.field, u.got, w[j+1])
				}
				if u.got != "" {
					users++
				}
			}
		}
		if users == 0 {
			t.Errorf("%s: no users at all", file)
		}
	}
	for _, file := range fixture.PlainSIP {
		t.Run(file, func(t *testing.T) { f(file) })
	}
}
