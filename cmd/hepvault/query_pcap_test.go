package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/pcapout/pcapouttest"
	"github.com/hepvault/hepvault/store/storetest"
)

// TestQuery_Pcap imports real captures (SIP over UDP and over TCP) into a
// running hepvault, exports them with `hepvault query --pcap` over several
// pages, and has tshark read the file: every message, in the API's order.
func TestQuery_Pcap(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	s := startTestServerWith(t, func(c *serveConfig) { c.DB = dsn })
	dir := fixture.Dir(t)
	var want []hepvault.Packet
	for _, name := range []string{fixture.SIPPcap, fixture.SIPPTCPPcap} {
		path := filepath.Join(dir, name)
		if out, _, err := runImportCmd(t, dsn, path); err != nil {
			t.Fatalf("import %s: %v\n%s", name, err, out)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := capture.Read(bytes.NewReader(b), capture.Config{}, func(p hepvault.Packet) error {
			want = append(want, p)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The API's order: capture time to the microsecond, then id.
	slices.SortStableFunc(want, func(a, b hepvault.Packet) int {
		if c := a.CapturedAt.UnixMicro() - b.CapturedAt.UnixMicro(); c != 0 {
			return int(c)
		}
		return int(a.ID - b.ID)
	})

	query := func(args ...string) (string, []byte) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "out.pcap")
		var out, errOut bytes.Buffer
		args = append([]string{"query", "--server", s.url(""), "--pcap", file}, args...)
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
			t.Fatalf("hepvault %s: %v: %s", strings.Join(args, " "), err, errOut.String())
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*part")); len(matches) != 0 {
			t.Fatalf("unexpected temporary files left; got %v", matches)
		}
		return errOut.String(), b
	}

	// Every message, 7 a request: pages split TCP flows, whose sequence
	// numbers must still run on.
	msg, b := query("--limit", "1000", "--page", "7")
	if !strings.Contains(msg, "wrote 360 packets") || strings.Contains(msg, "more packets follow") || len(want) != 360 {
		t.Fatalf("unexpected summary for %d messages; got %q; want 360 written, none left", len(want), msg)
	}
	pcapouttest.Check(t, b, want)

	// --limit cuts, inside a page, and says how to go on.
	msg, b = query("--limit", "150", "--page", "64")
	if !strings.Contains(msg, "wrote 150 packets") || !strings.Contains(msg, "more packets follow") {
		t.Fatalf("unexpected summary; got %q; want 150 written, more follow", msg)
	}
	pcapouttest.Check(t, b, want[:150])

	// Filters apply: one call over TCP.
	i := slices.IndexFunc(want, func(p hepvault.Packet) bool { return p.Transport == hepvault.TransportTCP })
	callID := want[i].CallID
	var call []hepvault.Packet
	for _, p := range want {
		if p.CallID == callID {
			call = append(call, p)
		}
	}
	_, b = query("--call-id", callID)
	pcapouttest.Check(t, b, call)
}

// TestQuery_PcapFailure checks the command lines --pcap refuses.
func TestQuery_PcapFailure(t *testing.T) {
	f := func(args ...string) {
		t.Helper()
		args = append([]string{"query", "--server", "http://127.0.0.1:1"}, args...)
		err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("%q: unexpected error; got %v; want a usage error", args, err)
		}
	}
	f("--pcap", "x.pcap", "--json")
	f("--pcap", "x.pcap", "--page", "0")
	f("--pcap", "x.pcap", "--page", "10001")
	f("--pcap", "x.pcap", "--limit", "-1")
}
