package capture_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
)

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

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkAgainstTSV compares messages with tshark's reading, one to one and
// in order.
func checkAgainstTSV(t *testing.T, got []hepvault.Packet, truth []fixture.Message) {
	t.Helper()
	if len(got) != len(truth) {
		t.Fatalf("unexpected message count; got %d; want %d", len(got), len(truth))
	}
	for i, w := range truth {
		p := got[i]
		name := "frame " + strconv.Itoa(w.Frame)
		if !p.CapturedAt.Equal(w.Time.Truncate(time.Microsecond)) {
			t.Errorf("%s: unexpected time; got %s; want %s", name, p.CapturedAt.Format(time.RFC3339Nano), w.Time.Format(time.RFC3339Nano))
		}
		if w.Method != "" {
			if p.Kind != hepvault.KindRequest || p.Method != w.Method {
				t.Errorf("%s: unexpected classification; got %s; want request %s", name, p.Summary(), w.Method)
			}
		} else if p.Kind != hepvault.KindResponse || p.StatusCode != w.Status {
			t.Errorf("%s: unexpected classification; got %s; want response %d", name, p.Summary(), w.Status)
		}
		if p.CSeqMethod != w.CSeqMethod || p.CallID != w.CallID {
			t.Errorf("%s: unexpected CSeq method/Call-ID; got %s/%s; want %s/%s", name, p.CSeqMethod, p.CallID, w.CSeqMethod, w.CallID)
		}
		if p.HEPVersion != 0 || p.CaptureID != 0 {
			t.Errorf("%s: unexpected HEP version/capture id for plain SIP; got %d/%d; want 0/0", name, p.HEPVersion, p.CaptureID)
		}
	}
}
