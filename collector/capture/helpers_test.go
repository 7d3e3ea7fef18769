package capture_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
)

// tsvTruth is one line of a *.truth.tsv file: what tshark's SIP dissector
// read (see testdata/FIXTURES.md).
type tsvTruth struct {
	frame      int
	time       time.Time
	method     string
	status     int
	cseqMethod string
	callID     string
}

func loadTSV(t *testing.T, name string) []tsvTruth {
	t.Helper()
	f, err := os.Open(filepath.Join(fixture.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tsvTruth
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 6 {
			t.Fatalf("%s: line %q: want 6 fields", name, sc.Text())
		}
		var tt tsvTruth
		tt.frame, _ = strconv.Atoi(c[0])
		sec, frac, _ := strings.Cut(c[1], ".")
		s, _ := strconv.ParseInt(sec, 10, 64)
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		tt.time = time.Unix(s, ns).UTC()
		tt.method, tt.cseqMethod, tt.callID = c[2], c[4], c[5]
		if c[3] != "" {
			tt.status, _ = strconv.Atoi(c[3])
		}
		out = append(out, tt)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readAll reads a capture and returns its messages.
func readAll(t *testing.T, data []byte) ([]hepvault.Packet, capture.Stats, error) {
	t.Helper()
	var got []hepvault.Packet
	st, err := capture.Read(bytes.NewReader(data), capture.Config{}, func(p hepvault.Packet) error {
		got = append(got, p)
		return nil
	})
	return got, st, err
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkAgainstTSV compares messages with tshark's reading, one to one and
// in order.
func checkAgainstTSV(t *testing.T, got []hepvault.Packet, truth []tsvTruth) {
	t.Helper()
	if len(got) != len(truth) {
		t.Fatalf("unexpected message count; got %d; want %d", len(got), len(truth))
	}
	for i, w := range truth {
		p := got[i]
		name := "frame " + strconv.Itoa(w.frame)
		if !p.CapturedAt.Equal(w.time.Truncate(time.Microsecond)) {
			t.Errorf("%s: unexpected time; got %s; want %s", name, p.CapturedAt.Format(time.RFC3339Nano), w.time.Format(time.RFC3339Nano))
		}
		if w.method != "" {
			if p.Kind != hepvault.KindRequest || p.Method != w.method {
				t.Errorf("%s: unexpected classification; got %s; want request %s", name, p.Summary(), w.method)
			}
		} else if p.Kind != hepvault.KindResponse || p.StatusCode != w.status {
			t.Errorf("%s: unexpected classification; got %s; want response %d", name, p.Summary(), w.status)
		}
		if p.CSeqMethod != w.cseqMethod || p.CallID != w.callID {
			t.Errorf("%s: unexpected CSeq method/Call-ID; got %s/%s; want %s/%s", name, p.CSeqMethod, p.CallID, w.cseqMethod, w.callID)
		}
		if p.HEPVersion != 0 || p.CaptureID != 0 {
			t.Errorf("%s: unexpected HEP version/capture id for plain SIP; got %d/%d; want 0/0", name, p.HEPVersion, p.CaptureID)
		}
	}
}
