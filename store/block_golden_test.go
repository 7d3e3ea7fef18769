package store

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/jackc/pgx/v5"
)

var update = flag.Bool("update", false, "write the golden blocks of the current format (testdata/blocks/format<N>.bin and .json)")

// goldenDir holds a pair of files per block format: format<N>.bin, blocks as
// the spool keeps them (appendBlock), made from real captured SIP messages;
// and format<N>.json, their packets as they must read back, every field,
// Raw in base64.
const goldenDir = "testdata/blocks"

// TestBlockGolden decodes the golden blocks of every format and compares
// them with their packets exactly. Stored blocks live for as long as the
// data is kept, so a decoder must keep reading every format ever written:
// these files are never rewritten once a format has shipped. When a new
// format comes, add its golden pair beside these (go test ./store -run
// TestBlockGolden -update writes the pair of currentFormat only) and keep
// the others as they are.
//
// The terms of each golden block are checked against its packets too: the
// term index holds the terms of blocks written long ago, so a change to
// termHash or appendTerms would make stored blocks unfindable.
func TestBlockGolden(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	bins, err := filepath.Glob(filepath.Join(goldenDir, "format*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	formats := map[int16]bool{}
	for _, bin := range bins {
		m := regexp.MustCompile(`format(\d+)\.bin$`).FindStringSubmatch(bin)
		if m == nil {
			t.Fatalf("%s: not named format<N>.bin", bin)
		}
		n, err := strconv.ParseInt(m[1], 10, 16)
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		formats[int16(n)] = true
		t.Run(filepath.Base(bin), func(t *testing.T) { checkGolden(t, int16(n), bin) })
	}
	for f := int16(1); f <= currentFormat; f++ {
		if !formats[f] {
			t.Errorf("no golden blocks of format %d in %s: every format needs its pair (-update writes the current one's)", f, goldenDir)
		}
	}
}

func checkGolden(t *testing.T, format int16, bin string) {
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(bin[:len(bin)-len(".bin")] + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var want []hepvault.Packet
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields() // a field renamed or gone must fail here
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%s.json: %v", bin, err)
	}
	var got []hepvault.Packet
	rest := data
	for i := 0; len(rest) > 0; i++ {
		var b block
		b, rest, err = readBlock(rest)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if b.format != format {
			t.Fatalf("block %d: unexpected format %d in the golden file of format %d", i, b.format, format)
		}
		pkts, err := decodeAll(b.format, b.packets)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if len(pkts) != int(b.count) || len(pkts) == 0 {
			t.Fatalf("block %d: %d packets; its count says %d", i, len(pkts), b.count)
		}
		if !b.firstAt.Equal(pkts[0].CapturedAt) || b.firstID != pkts[0].ID || !b.lastAt.Equal(pkts[len(pkts)-1].CapturedAt) {
			t.Fatalf("block %d: keys (%v, %d) to %v do not match its packets", i, b.firstAt, b.firstID, b.lastAt)
		}
		if terms := blockTerms(pkts); !slices.Equal(b.terms, terms) {
			t.Fatalf("block %d: its stored terms differ from the terms of its packets today: "+
				"termHash or appendTerms changed, and blocks already stored would not be found", i)
		}
		got = append(got, pkts...)
	}
	if len(got) != len(want) {
		t.Fatalf("unexpected number of packets; got %d; want %d", len(got), len(want))
	}
	for i := range got {
		if d := diffPacket(got[i], want[i]); d != "" {
			t.Fatalf("packet %d (id %d): %s", i, want[i].ID, d)
		}
		if got[i].Raw == nil || want[i].Raw == nil {
			t.Fatalf("packet %d: Raw nil (got %v, want %v); want empty at least", i, got[i].Raw == nil, want[i].Raw == nil)
		}
	}
}

// writeGolden writes the golden pair of currentFormat.
func writeGolden(t *testing.T) {
	pkts := goldenPackets(t)
	blocks := encodeBlocks(pkts)
	var bin []byte
	for i := range blocks {
		bin = appendBlock(bin, &blocks[i])
	}
	var read []hepvault.Packet
	for i := range blocks {
		read = append(read, decodeBlock(t, &blocks[i])...)
	}
	js, err := json.MarshalIndent(read, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(goldenDir, fmt.Sprintf("format%d", currentFormat))
	if err := os.WriteFile(name+".bin", bin, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name+".json", append(js, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s.bin (%d blocks, %d packets, %d bytes) and %s.json", name, len(blocks), len(pkts), len(bin), name)
}

// goldenPackets are packets as the collector builds them: messages of the
// Kamailio captures in testdata (HEPv3: registrations, keepalives, a call
// over UDP, one over TCP; HEPv2: a busy call and one to an unknown user;
// HEPv3: a call whose forwarded INVITE carries X-CID),
// and a few messages that give every column a value (a P-Asserted-Identity,
// tel: and escaped users, IPv6, a correlation id, HEPv1's time to the
// nanosecond, a payload that is not SIP).
func goldenPackets(tb testing.TB) []hepvault.Packet {
	tb.Helper()
	var (
		dec  hep.Decoder
		hp   hep.Packet
		m    sip.Message
		pkts []hepvault.Packet
	)
	add := func(name string, frames ...[2]int) {
		recs := fixture.Load(tb, name)
		for _, r := range frames {
			for f := r[0]; f <= r[1]; f++ {
				if err := dec.Decode(recs[f-1].Datagram, &hp); err != nil {
					tb.Fatalf("%s frame %d: %v", name, f, err)
				}
				err := sip.Parse(hp.Payload, &m)
				pkts = append(pkts, collector.Build(&hp, &m, err, hp.Time().Add(time.Millisecond), int64(1000*len(pkts)+f)))
			}
		}
	}
	add(fixture.HEP3, [2]int{1, 29}, [2]int{295, 307})
	add(fixture.HEP2, [2]int{35, 45})
	// A call through a Kamailio that gives it a second Call-ID towards the
	// callee, naming the first in X-CID (format 2's correlation_header).
	for i, d := range fixture.HEP(tb, fixture.LegsPcap)[:13] {
		if err := dec.Decode(d, &hp); err != nil {
			tb.Fatalf("%s HEP packet %d: %v", fixture.LegsPcap, i+1, err)
		}
		err := sip.Parse(hp.Payload, &m)
		pkts = append(pkts, collector.Build(&hp, &m, err, hp.Time().Add(time.Millisecond), int64(800000+i)))
	}

	at := time.Date(2026, 11, 25, 12, 33, 0, 0, time.UTC)
	crafted := []struct {
		hp      hep.Packet
		payload string
	}{
		{hep.Packet{Version: 3, Proto: 6, ProtoType: 1, CaptureID: 77,
			SrcIP: netip.MustParseAddr("2001:db8::10"), SrcPort: 5061, DstIP: netip.MustParseAddr("2001:db8::20"), DstPort: 5060,
			CorrelationID: []byte("corr-7f3a"), TsSec: uint32(at.Unix()), TsUsec: 123456},
			"INVITE sip:%2B49%2030%207741528@pbx.example.com;user=phone SIP/2.0\r\n" +
				"Via: SIP/2.0/TCP [2001:db8::10]:5061;branch=z9hG4bK-gold-1\r\n" +
				"From: \"Müller\" <sip:+49-30-7741528@example.com>;tag=gold1\r\n" +
				"To: <tel:49307741528>\r\n" +
				"P-Asserted-Identity: \"Alice\" <sip:alice.smith@example.com>, <tel:+49-30-111>\r\n" +
				"Call-ID: golden-call-1@2001:db8::10\r\nCSeq: 4711 INVITE\r\nX-Call-ID: golden-leg-a\r\n" +
				"Contact: <sip:+49-30-7741528@[2001:db8::10]:5061;transport=tcp>\r\n" +
				"User-Agent: Yealink SIP-T46S 66.86.0.15\r\nContent-Type: application/sdp\r\nContent-Length: 28\r\n\r\n" +
				"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\n"},
		{hep.Packet{Version: 3, Proto: 6, ProtoType: 1, CaptureID: 77,
			SrcIP: netip.MustParseAddr("2001:db8::20"), SrcPort: 5060, DstIP: netip.MustParseAddr("2001:db8::10"), DstPort: 5061,
			TsSec: uint32(at.Unix()), TsUsec: 130001},
			"SIP/2.0 503 Service Unavailable\r\nVia: SIP/2.0/TCP [2001:db8::10]:5061;branch=z9hG4bK-gold-1\r\n" +
				"From: \"Müller\" <sip:+49-30-7741528@example.com>;tag=gold1\r\nTo: <tel:49307741528>;tag=srv9\r\n" +
				"Call-ID: golden-call-1@2001:db8::10\r\nCSeq: 4711 INVITE\r\nServer: pbx 2.1\r\nContent-Length: 0\r\n\r\n"},
		{hep.Packet{Version: 1, Proto: 17, ProtoType: 1,
			SrcIP: netip.MustParseAddr("192.0.2.7"), SrcPort: 5060, DstIP: netip.MustParseAddr("192.0.2.8"), DstPort: 5060},
			"OPTIONS sip:keepalive@192.0.2.8 SIP/2.0\r\nFrom: <sip:monitor@192.0.2.7>;tag=k\r\nTo: <sip:keepalive@192.0.2.8>\r\n" +
				"Call-ID: ka-\xff-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"},
		{hep.Packet{Version: 3, Proto: 17, ProtoType: 1, CaptureID: 77,
			SrcIP: netip.MustParseAddr("192.0.2.7"), SrcPort: 40000, DstIP: netip.MustParseAddr("192.0.2.8"), DstPort: 5060,
			TsSec: uint32(at.Unix()), TsUsec: 500000},
			"\x00\x01not SIP \xff\xfe at all\r\n"},
	}
	for i, c := range crafted {
		hp := c.hp
		hp.Payload = []byte(c.payload)
		recv := at.Add(time.Duration(i+1)*time.Second + 123456789) // HEPv1: the capture time, to the nanosecond
		err := sip.Parse(hp.Payload, &m)
		pkts = append(pkts, collector.Build(&hp, &m, err, recv, int64(900000+i)))
	}
	return pkts
}

// TestBlockGolden_OlderFormatWritten writes the golden blocks of format 1,
// as the spool of an older hepvault hands them over, to a database whose
// packet_v1 has the columns of the current format: they are written again
// in it (upgrade) and read back as they were.
func TestBlockGolden_OlderFormatWritten(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(goldenDir, "format1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(goldenDir, "format1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []hepvault.Packet
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	var e encoded
	for rest := data; len(rest) > 0; {
		var b block
		if b, rest, err = readBlock(rest); err != nil {
			t.Fatal(err)
		}
		if b.format != format1 {
			t.Fatalf("unexpected format %d in format1.bin", b.format)
		}
		e.blocks = append(e.blocks, b)
		e.packets += int(b.count)
	}
	ctx := context.Background()
	db := migratedDB(t)
	w := NewWriter(db, DefaultWriterConfig())
	n, err := w.writeEncodedOnce(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) {
		t.Fatalf("unexpected packets written; got %d; want %d", n, len(want))
	}
	got, _, err := db.Packets(ctx, hepvault.Filter{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b hepvault.Packet) int { return comparePackets(&a, &b) })
	if len(got) != len(want) {
		t.Fatalf("unexpected packets read; got %d; want %d", len(got), len(want))
	}
	for i := range got {
		if d := diffPacket(got[i], want[i]); d != "" {
			t.Fatalf("packet %d (id %d): %s", i, want[i].ID, d)
		}
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT format FROM packet_blocks`)
	if err != nil {
		t.Fatal(err)
	}
	formats, err := pgx.CollectRows(rows, pgx.RowTo[int16])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(formats, []int16{currentFormat}) {
		t.Fatalf("unexpected formats stored; got %v; want [%d]", formats, currentFormat)
	}
}
