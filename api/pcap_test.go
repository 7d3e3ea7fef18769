package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/pcapout/pcapouttest"
	"github.com/hepvault/hepvault/store"
)

// loadCapture reads a capture of testdata/ as `hepvault import` does.
func loadCapture(t *testing.T, name string) []hepvault.Packet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixture.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var pkts []hepvault.Packet
	if _, err := capture.Read(bytes.NewReader(b), capture.Config{}, func(p hepvault.Packet) error {
		pkts = append(pkts, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return pkts
}

// newPcapServer serves the API over a database holding the real messages of
// sip.pcap (IPv4, UDP and TCP) and those of sipp-tcp.pcapng moved to IPv6
// (2001:db8::a.b.c.d); it returns them in the API's order.
func newPcapServer(t *testing.T) (*httptest.Server, []hepvault.Packet) {
	t.Helper()
	db, _ := migratedDB(t)
	ctx := context.Background()
	pkts := loadCapture(t, fixture.SIPPcap)
	for _, p := range loadCapture(t, fixture.SIPPTCPPcap) {
		for _, a := range []*netip.Addr{&p.SrcIP, &p.DstIP} {
			b := a.As4()
			*a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
		}
		pkts = append(pkts, p)
	}
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(pkts, func(a, b hepvault.Packet) int {
		if c := a.CapturedAt.UnixMicro() - b.CapturedAt.UnixMicro(); c != 0 {
			return int(c)
		}
		return int(a.ID - b.ID)
	})
	srv := httptest.NewServer(api.New(db, nil, nil))
	t.Cleanup(srv.Close)
	return srv, pkts
}

func getPcap(t *testing.T, srv *httptest.Server, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: unexpected status; got %d; want 200: %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.tcpdump.pcap" {
		t.Fatalf("GET %s: unexpected Content-Type; got %q; want application/vnd.tcpdump.pcap", path, ct)
	}
	return resp, body
}

// TestPackets_Pcap pages through every stored message as pcap, the cursor
// in X-Next-Cursor, and has tshark read each page back.
func TestPackets_Pcap(t *testing.T) {
	srv, want := newPcapServer(t)
	const limit = 100
	cursor, pages, n := "", 0, 0
	for {
		q := url.Values{"format": {"pcap"}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		resp, body := getPcap(t, srv, "/api/v1/packets?"+q.Encode())
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="hepvault-packets.pcap"` {
			t.Fatalf("unexpected Content-Disposition; got %q", cd)
		}
		page := want[n:min(n+limit, len(want))]
		pcapouttest.Check(t, body, page)
		n += len(page)
		pages++
		cursor = resp.Header.Get(api.NextCursorHeader)
		if cursor == "" {
			break
		}
	}
	if n != len(want) || pages != (len(want)+limit-1)/limit {
		t.Fatalf("unexpected pages; got %d packets in %d pages; want %d packets in %d", n, pages, len(want), (len(want)+limit-1)/limit)
	}

	// A window with nothing in it is still a pcap file, with no frame.
	_, body := getPcap(t, srv, "/api/v1/packets?format=pcap&from=2030-01-01T00:00:00Z")
	pcapouttest.Check(t, body, nil)
}

// TestCall_Pcap exports whole calls, one over UDP and IPv4, one over TCP
// and IPv6.
func TestCall_Pcap(t *testing.T) {
	srv, all := newPcapServer(t)
	f := func(callID string, tr hepvault.Transport, v6 bool) {
		t.Helper()
		var want []hepvault.Packet
		for _, p := range all {
			if p.CallID == callID {
				want = append(want, p)
			}
		}
		if len(want) < 5 || want[0].Transport != tr || want[0].SrcIP.Is6() != v6 {
			t.Fatalf("fixture changed: call %s has %d messages, the first over %s (IPv6 %v)", callID, len(want), want[0].Transport, want[0].SrcIP.Is6())
		}
		resp, body := getPcap(t, srv, "/api/v1/calls/"+url.PathEscape(callID)+"?format=pcap")
		wantCD := `attachment; filename="call-` + fileName(callID) + `.pcap"`
		if cd := resp.Header.Get("Content-Disposition"); cd != wantCD {
			t.Fatalf("unexpected Content-Disposition; got %q; want %q", cd, wantCD)
		}
		pcapouttest.Check(t, body, want)
	}
	var udp4, tcp6 string
	for _, p := range all {
		if udp4 == "" && p.Transport == hepvault.TransportUDP && p.Method == "INVITE" {
			udp4 = p.CallID
		}
		if tcp6 == "" && p.Transport == hepvault.TransportTCP && p.SrcIP.Is6() && p.Method == "INVITE" {
			tcp6 = p.CallID
		}
	}
	f(udp4, hepvault.TransportUDP, false)
	f(tcp6, hepvault.TransportTCP, true)
}

// fileName is what the API makes of a Call-ID in a file name, written out
// for the Call-IDs of the fixtures: '@' becomes '_'.
func fileName(callID string) string {
	b := []byte(callID)
	for i, c := range b {
		if c == '@' {
			b[i] = '_'
		}
	}
	return string(b)
}

// TestCall_PcapFileName checks that a Call-ID with characters a header
// cannot quote becomes a safe file name.
func TestCall_PcapFileName(t *testing.T) {
	srv, _ := newServer(t)
	resp, _ := getPcap(t, srv, "/api/v1/calls/reg%2F1%20x?format=pcap")
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="call-reg_1_x.pcap"` {
		t.Fatalf("unexpected Content-Disposition; got %q", cd)
	}
}
