package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
)

// runImportCmd runs `hepvault import --db dsn files...` and returns its
// summary and error.
func runImportCmd(t *testing.T, dsn string, files ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"import", "--db", dsn}, files...)
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// summaryCount reads one count from the summary ("stored (new)       742").
func summaryCount(t *testing.T, summary, label string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(label) + `\s+(\d+)`).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("summary has no %q line:\n%s", label, summary)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func storedPackets(t *testing.T, dsn string) []hepvault.Packet {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.DSN = dsn
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pkts, more, err := db.Packets(context.Background(), hepvault.Filter{Limit: store.MaxLimit})
	if err != nil || more {
		t.Fatalf("reading back: more %v, err %v", more, err)
	}
	return pkts
}

// line is what the truth files and the store can both say of a message.
func line(at time.Time, method string, status int, cseqMethod, callID string) string {
	return fmt.Sprintf("%s %s %d %s %s", at.UTC().Format("2006-01-02T15:04:05.000000"), method, status, cseqMethod, callID)
}

func TestImport_StoresEverySIPMessageOnce(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	dir := fixture.Dir(t)
	// ngrep's capture holds the very packets of tcpdump's (same kernel
	// timestamps): it comes in the second round, and adds nothing.
	plain := []string{fixture.SIPPcap, fixture.SIPPTCPPcap, fixture.SIPPAnyPcap}
	heps := []string{fixture.HEP3, fixture.HEP2}
	var files, want []string
	for _, name := range plain {
		files = append(files, filepath.Join(dir, name))
		for _, m := range fixture.LoadTSV(t, name) {
			want = append(want, line(m.Time.Truncate(time.Microsecond), m.Method, m.Status, m.CSeqMethod, m.CallID))
		}
	}
	nplain := len(want)
	for _, name := range heps {
		files = append(files, filepath.Join(dir, name+".pcap"))
		for _, r := range fixture.Load(t, name) {
			tr := r.Truth
			want = append(want, line(time.Unix(int64(tr.TsSec), int64(tr.TsUsec)*1000), tr.Method, tr.StatusCode, tr.CSeqMethod, tr.CallID))
		}
	}

	out, _, err := runImportCmd(t, dsn, files...)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if n := summaryCount(t, out, "stored (new)"); n != len(want) {
		t.Fatalf("unexpected new packets; got %d; want %d\n%s", n, len(want), out)
	}
	if n := storedInDB(t, dsn); n != len(want) {
		t.Fatalf("unexpected count in the database; got %d; want %d", n, len(want))
	}
	got := storedPackets(t, dsn)
	var gotLines []string
	hep, invalid := 0, 0
	for _, p := range got {
		gotLines = append(gotLines, line(p.CapturedAt, p.Method, p.StatusCode, p.CSeqMethod, p.CallID))
		if p.HEPVersion != 0 {
			hep++
		}
		if p.Kind == hepvault.KindInvalid {
			invalid++
		}
	}
	slices.Sort(gotLines)
	slices.Sort(want)
	if !slices.Equal(gotLines, want) {
		for i := range min(len(gotLines), len(want)) {
			if gotLines[i] != want[i] {
				t.Fatalf("stored messages differ from tshark's at %d: got %q; want %q", i, gotLines[i], want[i])
			}
		}
		t.Fatalf("unexpected stored count; got %d; want %d", len(gotLines), len(want))
	}
	if hep != len(want)-nplain || invalid != 0 {
		t.Fatalf("unexpected HEP/invalid counts; got %d/%d; want %d/0", hep, invalid, len(want)-nplain)
	}

	// The second time, everything is there already, ngrep's copy of
	// tcpdump's packets too.
	files = append(files, filepath.Join(dir, fixture.NgrepPcap))
	out, _, err = runImportCmd(t, dsn, files...)
	if err != nil {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	ngrep := len(fixture.LoadTSV(t, fixture.NgrepPcap))
	if n, dup := summaryCount(t, out, "stored (new)"), summaryCount(t, out, "already stored"); n != 0 || dup != len(want)+ngrep {
		t.Fatalf("unexpected second import; got %d new, %d already stored; want 0, %d\n%s", n, dup, len(want)+ngrep, out)
	}
	if n := storedInDB(t, dsn); n != len(want) {
		t.Fatalf("unexpected stored count after the second import; got %d; want %d", n, len(want))
	}
}

func TestImport_Failures(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	tmp := t.TempDir()
	good, err := os.ReadFile(filepath.Join(fixture.Dir(t), fixture.SIPPcap))
	if err != nil {
		t.Fatal(err)
	}
	notCapture := filepath.Join(tmp, "notes.txt")
	os.WriteFile(notCapture, []byte("INVITE is not a pcap\n"), 0o644)
	// Record 11's header (after the 24-byte file header and ten records)
	// claims 2 GB: the rest of the file cannot be found.
	corrupt := filepath.Join(tmp, "corrupt.pcap")
	off := 24
	for range 10 {
		off += 16 + int(le32(good[off+8:]))
	}
	bad := slices.Clone(good)
	copy(bad[off+8:], []byte{0, 0, 0, 0x80})
	os.WriteFile(corrupt, bad, 0o644)

	f := func(args []string, wantUsage bool, wantInErr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"import"}, args...), func(string) string { return "" }, &out, &errOut)
		if err == nil {
			t.Fatalf("import %v: unexpected success", args)
		}
		var ue usageError
		if errors.As(err, &ue) != wantUsage {
			t.Fatalf("import %v: unexpected usage error %v; got %v", args, wantUsage, err)
		}
		if !strings.Contains(err.Error()+errOut.String(), wantInErr) {
			t.Fatalf("import %v: error does not say %q: %v\n%s", args, wantInErr, err, errOut.String())
		}
	}
	f(nil, true, "no capture file")
	f([]string{"--db", dsn, "--data-dir", tmp, "x.pcap"}, true, "not both")
	f([]string{"--db", dsn, filepath.Join(tmp, "missing.pcap")}, false, "missing.pcap: no such file")
	f([]string{"--db", dsn, notCapture}, false, "notes.txt: capture: not a pcap or pcapng file")
	f([]string{"--db", dsn, corrupt}, false, "corrupt.pcap: capture: corrupt record: record 11")

	// What came before the corrupt record is stored: the SIP of its first
	// ten frames.
	want := 0
	for _, m := range fixture.LoadTSV(t, fixture.SIPPcap) {
		if m.Frame <= 10 {
			want++
		}
	}
	if got := storedInDB(t, dsn); got != want || want == 0 {
		t.Fatalf("unexpected packets stored from the corrupt file; got %d; want %d", got, want)
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// TestImport_Progress: a line at each tenth of a large file (or after the
// interval), none for the end of the file, which the summary covers.
func TestImport_Progress(t *testing.T) {
	var errOut bytes.Buffer
	im := &importer{stderr: &errOut}
	p := progress{im: im, name: "big.pcap", size: 1000, every: time.Hour, start: time.Now().Add(-2 * time.Second)}
	for _, b := range []int64{50, 80, 120, 150, 250, 990, 1000} {
		p.report(capture.Stats{Bytes: b, Records: uint64(b)})
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "big.pcap:   5% of 1000 B, 50 packets read") || !strings.Contains(lines[3], " 99% ") {
		t.Fatalf("unexpected progress lines:\n%s", errOut.String())
	}
	errOut.Reset()
	small := progress{im: im, name: "small.pcap", size: 1000, every: time.Hour, start: time.Now()}
	small.report(capture.Stats{Bytes: 500})
	if errOut.Len() != 0 {
		t.Fatalf("unexpected progress for a file read in under a second: %s", errOut.String())
	}
}
