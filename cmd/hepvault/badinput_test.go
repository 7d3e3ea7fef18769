package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/badinput"
)

// TestServe_BadInputTable sends the whole malformed-input table over UDP to
// a running hepvault and reads the database: each refused input shows in
// its reason's counter, each kept one is stored once, classified as
// expected, with its payload byte for byte (NUL bytes and invalid UTF-8
// included).
func TestServe_BadInputTable(t *testing.T) {
	s := startTestServer(t)
	cases := badinput.Cases()
	conn, err := net.Dial("udp", s.col.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wantDrops := map[string]uint64{}
	stored := 0
	for _, tc := range cases {
		if _, err := conn.Write(tc.HEP); err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		time.Sleep(200 * time.Microsecond)
		if tc.Stored() {
			stored++
		} else {
			wantDrops[tc.Reason]++
		}
	}
	m := s.col.Metrics()
	deadline := time.Now().Add(20 * time.Second)
	for m.UDPDatagrams.Load() < uint64(len(cases)) || s.writer.Stats().Stored < uint64(stored) {
		if time.Now().After(deadline) {
			drops, _ := m.UDPKernelDrops()
			t.Fatalf("received %d of %d, stored %d of %d (kernel drops %d)", m.UDPDatagrams.Load(), len(cases), s.writer.Stats().Stored, stored, drops)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range []string{"short_packet", "not_hep", "bad_length", "bad_chunk", "no_payload", "inflate", "not_sip", "queue_full", "not_allowed"} {
		if got := droppedByName(t, s, r); got != wantDrops[r] {
			t.Fatalf("unexpected %s count; got %d; want %d", r, got, wantDrops[r])
		}
	}

	t.Logf("%d inputs: %d stored, refused %v", len(cases), stored, wantDrops)
	ctx := context.Background()
	for _, tc := range cases {
		if !tc.Stored() {
			continue
		}
		id := tc.CaptureID
		pkts, _, err := s.db.Packets(ctx, hepvault.Filter{CaptureIDs: []uint32{id}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(pkts) != 1 {
			t.Fatalf("%s: %d packets stored; want 1", tc.Name, len(pkts))
		}
		p := pkts[0]
		if !bytes.Equal(p.Raw, tc.Raw) {
			t.Fatalf("%s: stored payload differs; got %d bytes; want %d", tc.Name, len(p.Raw), len(tc.Raw))
		}
		if (tc.Invalid != "") != (p.Kind == hepvault.KindInvalid) || !strings.Contains(p.InvalidReason, tc.Invalid) {
			t.Fatalf("%s: unexpected classification; got %s %q; want invalid %q", tc.Name, p.Kind, p.InvalidReason, tc.Invalid)
		}
	}

	// Through the API too: a payload that is not UTF-8 comes back whole in raw_base64.
	for _, tc := range cases {
		if tc.Name != "invalid UTF-8 in a header value" && tc.Name != "binary garbage payload" {
			continue
		}
		resp, err := http.Get(s.url("/api/v1/packets?capture_id=" + strconv.FormatUint(uint64(tc.CaptureID), 10)))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Packets []struct {
				RawBase64 string `json:"raw_base64"`
			} `json:"packets"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || len(out.Packets) != 1 {
			t.Fatalf("%s: unexpected API answer: %v, %d packets", tc.Name, err, len(out.Packets))
		}
		raw, err := base64.StdEncoding.DecodeString(out.Packets[0].RawBase64)
		if err != nil || !bytes.Equal(raw, tc.Raw) {
			t.Fatalf("%s: raw_base64 does not give the payload back: %v", tc.Name, err)
		}
	}
}

// droppedByName reads a drop counter as /metrics shows it.
func droppedByName(t *testing.T, s *server, name string) uint64 {
	v, ok := scrape(t, s)[`hepvault_dropped_total{reason="`+name+`"}`]
	if !ok {
		return 1 << 63 // no such reason: fails the comparison
	}
	return uint64(v)
}
