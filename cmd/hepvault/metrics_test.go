package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/loadgen"
)

// metricsPage returns s's /metrics as a scraper without preferences gets it.
func metricsPage(t *testing.T, s *server) []byte {
	t.Helper()
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v:\n%s", resp.Status, err, page)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("unexpected /metrics content type %q", ct)
	}
	return page
}

// scrape returns s's /metrics as series ("name{labels}") and values.
func scrape(t *testing.T, s *server) loadgen.Samples {
	t.Helper()
	samples, err := loadgen.ParseMetrics(bytes.NewReader(metricsPage(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	return samples
}

// promtoolCheck runs `promtool check metrics` on page: the exposition
// format, and the Prometheus naming conventions.
func promtoolCheck(t *testing.T, page []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run scripts/deps.sh (make test does), which installs Debian's prometheus package", err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\npage:\n%s", err, out, page)
	}
}

// sipHEP is a HEPv3 packet from captureID with a SIP message: startLine,
// then the headers of a request or response in call callID.
func sipHEP(captureID uint32, startLine, cseqMethod, callID string) []byte {
	p := hep.Packet{
		Family: hep.FamilyIPv4, Proto: 17, ProtoType: hep.ProtoTypeSIP,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"), SrcPort: 5060, DstPort: 5060,
		TsSec: uint32(time.Now().Unix()), CaptureID: captureID,
		Payload: []byte(startLine + "\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-" + callID + "\r\n" +
			"From: <sip:alice@example.org>;tag=1\r\nTo: <sip:bob@example.org>\r\nCall-ID: " + callID +
			"\r\nCSeq: 1 " + cseqMethod + "\r\nContent-Length: 0\r\n\r\n"),
	}
	return hep.AppendV3(nil, &p)
}

// TestServe_Metrics sends a known mix over UDP and TCP to a running
// hepvault, good and bad, and checks that each counter on /metrics moved by
// what was sent: by transport and HEP version, SIP method, status class and
// kind, capture id, drop reason; the write histograms against the packets
// stored; then that promtool finds the page correct.
func TestServe_Metrics(t *testing.T) {
	s := startTestServer(t)
	before := scrape(t, s)

	var udp, tcp [][]byte
	n := 0
	call := func() string { n++; return fmt.Sprintf("metrics-%d", n) }
	// UDP, capture id 101: 3 INVITE, 2 BYE, 1 request of an unknown method,
	// then the HEPv2 capture's first packet.
	for range 3 {
		udp = append(udp, sipHEP(101, "INVITE sip:bob@example.org SIP/2.0", "INVITE", call()))
	}
	for range 2 {
		udp = append(udp, sipHEP(101, "BYE sip:bob@example.org SIP/2.0", "BYE", call()))
	}
	udp = append(udp, sipHEP(101, "FROBNICATE sip:bob@example.org SIP/2.0", "FROBNICATE", call()))
	hep2 := fixture.Load(t, fixture.HEP2)[0]
	udp = append(udp, hep2.Datagram)
	// Bad input over UDP: not HEP, too short, a HEP packet that is not SIP
	// (RTCP), and one whose payload is not SIP (stored as invalid).
	rtcp := hep.Packet{Family: hep.FamilyIPv4, Proto: 17, ProtoType: 5, SrcIP: netip.MustParseAddr("192.0.2.1"),
		DstIP: netip.MustParseAddr("192.0.2.2"), CaptureID: 101, Payload: []byte{0x80, 0xc8, 0, 6}}
	bad := [][]byte{[]byte("hello, not HEP at all"), []byte("HEP"), hep.AppendV3(nil, &rtcp),
		sipHEP(101, "\x00\x01 binary, not SIP", "X", call())}
	udp = append(udp, bad...)
	// TCP, capture id 102: 2 × 200, 1 × 486, 1 × 100.
	for _, line := range []string{"SIP/2.0 200 OK", "SIP/2.0 200 OK", "SIP/2.0 486 Busy Here", "SIP/2.0 100 Trying"} {
		tcp = append(tcp, sipHEP(102, line, "INVITE", call()))
	}

	uc, err := net.Dial("udp", s.col.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	for _, b := range udp {
		if _, err := uc.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	tc, err := net.Dial("tcp", s.col.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	for _, b := range tcp {
		if _, err := tc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// A TCP stream that is not HEP is closed and counted.
	garbage, err := net.Dial("tcp", s.col.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	garbage.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	garbage.SetReadDeadline(time.Now().Add(5 * time.Second))
	garbage.Read(make([]byte, 1))
	garbage.Close()

	hep2Method, hep2Class := `hepvault_sip_requests_total{method="`+sip.MethodOf([]byte(hep2.Truth.Method)).String()+`"}`, ""
	if hep2.Truth.StatusCode != 0 {
		hep2Method, hep2Class = "", fmt.Sprintf(`hepvault_sip_responses_total{class="%dxx"}`, hep2.Truth.StatusCode/100)
	}
	stored := 6 + 1 + 1 + 4 // the requests, the HEPv2 packet, the invalid one, the responses
	want := map[string]float64{
		`hepvault_received_total{transport="udp"}`:                 float64(len(udp)),
		`hepvault_received_total{transport="tcp"}`:                 float64(len(tcp)),
		`hepvault_decoded_total{transport="udp",version="3"}`:      6 + 2, // the requests, RTCP and the invalid one
		`hepvault_decoded_total{transport="udp",version="2"}`:      1,
		`hepvault_decoded_total{transport="udp",version="1"}`:      0,
		`hepvault_decoded_total{transport="tcp",version="3"}`:      4,
		`hepvault_capture_id_packets_total{capture_id="101"}`:      6 + 2,
		`hepvault_capture_id_packets_total{capture_id="102"}`:      4,
		`hepvault_sip_requests_total{method="INVITE"}`:             3,
		`hepvault_sip_requests_total{method="BYE"}`:                2,
		`hepvault_sip_requests_total{method="other"}`:              1,
		`hepvault_sip_responses_total{class="1xx"}`:                1,
		`hepvault_sip_responses_total{class="2xx"}`:                2,
		`hepvault_sip_responses_total{class="4xx"}`:                1,
		`hepvault_sip_responses_total{class="6xx"}`:                0,
		`hepvault_sip_messages_total{kind="request"}`:              6,
		`hepvault_sip_messages_total{kind="response"}`:             4,
		`hepvault_sip_messages_total{kind="invalid"}`:              1,
		`hepvault_invalid_sip_total`:                               1,
		`hepvault_dropped_total{reason="not_hep"}`:                 1,
		`hepvault_dropped_total{reason="short_packet"}`:            1,
		`hepvault_dropped_total{reason="not_sip"}`:                 1,
		`hepvault_dropped_total{reason="queue_full"}`:              0,
		`hepvault_tcp_connections_closed_total{reason="not_hep3"}`: 1,
		`hepvault_tcp_bad_frames_total`:                            1,
		`hepvault_queued_total`:                                    float64(stored),
		`hepvault_stored_total`:                                    float64(stored),
		`hepvault_db_write_batch_packets_sum`:                      float64(stored),
		`hepvault_db_write_errors_total{reason="unavailable"}`:     0,
		`hepvault_db_write_errors_total{reason="refused"}`:         0,
	}
	if hep2Method != "" {
		want[hep2Method]++
		want[`hepvault_sip_messages_total{kind="request"}`]++
	} else {
		want[hep2Class]++
		want[`hepvault_sip_messages_total{kind="response"}`]++
	}
	want[fmt.Sprintf(`hepvault_capture_id_packets_total{capture_id="%d"}`, hep2.Truth.CaptureID)]++

	var after loadgen.Samples
	mismatch := func() []string {
		var out []string
		for series, d := range want {
			v, ok := after[series]
			if !ok {
				out = append(out, series+": missing")
			} else if got := v - before[series]; got != d {
				out = append(out, fmt.Sprintf("%s: moved by %g; want %g", series, got, d))
			}
		}
		sort.Strings(out)
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		after = scrape(t, s)
		bad := mismatch()
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not move as they should:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	writes := after["hepvault_db_write_batch_packets_count"] - before["hepvault_db_write_batch_packets_count"]
	if took := after["hepvault_db_write_duration_seconds_count"] - before["hepvault_db_write_duration_seconds_count"]; writes < 1 || took != writes {
		t.Fatalf("unexpected write histograms: %g writes by size, %g by duration", writes, took)
	}
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes", "hepvault_queue_length", "hepvault_queue_capacity",
		`hepvault_capture_id_packets_total{capture_id="other"}`, `hepvault_db_write_duration_seconds_bucket{le="+Inf"}`,
		"hepvault_spool_bytes", "hepvault_spool_max_bytes", "hepvault_udp_kernel_drops_total"} {
		if _, ok := after[series]; !ok {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	for _, series := range []string{`hepvault_retention_dropped_partitions_total{reason="retention"}`, `hepvault_retention_refused_total{reason="expired"}`} {
		if v, ok := after[series]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v); want 0 with nothing past retention", series, v, ok)
		}
	}
	promtoolCheck(t, metricsPage(t, s))
}
