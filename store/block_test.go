package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/seed"
)

// checkBlocks runs encodeBlocks on in and checks what must hold for any
// packets: the caller's slice and payloads are untouched; every packet reads
// back as readBack says, in (capture microsecond, id) order; each block obeys
// the limits, is cut only when one is reached, and its key, count, terms and
// array describe its packets.
func checkBlocks(tb testing.TB, in []hepvault.Packet) []block {
	tb.Helper()
	before := clonePackets(in)
	blocks := encodeBlocks(in)
	if !reflect.DeepEqual(in, before) {
		tb.Fatalf("encodeBlocks changed the caller's packets")
	}
	want := slices.Clone(in)
	slices.SortStableFunc(want, func(a, b hepvault.Packet) int { return comparePackets(&a, &b) })
	k := 0
	for i := range blocks {
		b := &blocks[i]
		got := decodeBlock(tb, b)
		if len(got) != int(b.count) || len(got) == 0 || k+len(got) > len(want) {
			tb.Fatalf("block %d: unexpected packet count; got %d decoded, block says %d, %d packets left", i, len(got), b.count, len(want)-k)
		}
		blk := want[k : k+len(got)]
		for j := range got {
			if d := diffPacket(got[j], readBack(&blk[j])); d != "" {
				tb.Fatalf("block %d packet %d (id %d): unexpected packet read back: %s", i, j, blk[j].ID, d)
			}
		}
		checkBlock(tb, i, b, blk, got)
		if i > 0 {
			checkCut(tb, i, &blocks[i-1], &got[0])
		}
		k += len(got)
	}
	if k != len(want) {
		tb.Fatalf("unexpected number of packets in blocks; got %d; want %d", k, len(want))
	}
	return blocks
}

// checkBlock checks the limits of one block and that its columns describe
// its packets: blk as written (sorted), got as read back.
func checkBlock(tb testing.TB, i int, b *block, blk, got []hepvault.Packet) {
	tb.Helper()
	first, last := got[0].CapturedAt, got[len(got)-1].CapturedAt
	if b.format != currentFormat {
		tb.Fatalf("block %d: unexpected format; got %d; want %d", i, b.format, currentFormat)
	}
	if b.count > maxBlockPackets {
		tb.Fatalf("block %d: unexpected count; got %d; want at most %d", i, b.count, maxBlockPackets)
	}
	if span := last.Sub(first); span < 0 || span >= maxBlockSpan {
		tb.Fatalf("block %d: unexpected span of capture time; got %v; want in [0, %v)", i, span, maxBlockSpan)
	}
	if !dayOf(first).Equal(dayOf(last)) {
		tb.Fatalf("block %d: unexpected UTC days; got %v to %v; want one day", i, first, last)
	}
	sizes := encodedLens(blk)
	if n := sizes[len(sizes)-2]; len(blk) > 1 && n >= maxBlockBytes {
		tb.Fatalf("block %d: unexpected size before its last packet; got %d bytes; want < %d", i, n, maxBlockBytes)
	}
	if n := sizes[len(sizes)-1]; len(b.packets) != n {
		tb.Fatalf("block %d: unexpected size; got %d bytes; want %d", i, len(b.packets), n)
	}
	if !b.firstAt.Equal(first) || b.firstID != got[0].ID || !b.lastAt.Equal(last) ||
		b.firstAt.Location() != time.UTC || b.lastAt.Location() != time.UTC {
		tb.Fatalf("block %d: unexpected keys; got first (%v, %d) last %v; want first (%v, %d) last %v, in UTC",
			i, b.firstAt, b.firstID, b.lastAt, first, got[0].ID, last)
	}
	checkArrayHeader(tb, i, b.packets, len(got))
	for j := 1; j < len(b.terms); j++ {
		if b.terms[j-1] >= b.terms[j] {
			tb.Fatalf("block %d: terms not sorted and unique at %d: %d then %d", i, j, b.terms[j-1], b.terms[j])
		}
	}
	if want := blockTerms(blk); !slices.Equal(b.terms, want) {
		tb.Fatalf("block %d: unexpected terms; got %d terms %v; want %d terms %v", i, len(b.terms), b.terms, len(want), want)
	}
}

// checkArrayHeader checks the header of a block's packet_v1[]: one
// dimension of n elements from 1, none NULL, the element type's OID 0 (the
// writer sets it on sending).
func checkArrayHeader(tb testing.TB, i int, a []byte, n int) {
	tb.Helper()
	if len(a) < 20 {
		tb.Fatalf("block %d: array of %d bytes has no header", i, len(a))
	}
	u := func(at int) uint32 { return binary.BigEndian.Uint32(a[at:]) }
	if u(0) != 1 || u(4) != 0 || u(8) != 0 || u(12) != uint32(n) || u(16) != 1 {
		tb.Fatalf("block %d: unexpected array header (ndim, hasnull, oid, n, lbound); got %d %d %d %d %d; want 1 0 0 %d 1",
			i, u(0), u(4), u(8), u(12), u(16), n)
	}
}

// blockTerms is what a block of pkts must have in its terms: the terms of
// each of its packets, sorted, once each.
func blockTerms(pkts []hepvault.Packet) []int32 {
	var ts []int32
	for i := range pkts {
		ts = appendTerms(ts, &pkts[i])
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// checkCut checks that the block before next was closed because adding
// next would have broken a limit.
func checkCut(tb testing.TB, i int, prev *block, next *hepvault.Packet) {
	tb.Helper()
	full := prev.count == maxBlockPackets || len(prev.packets) >= maxBlockBytes
	tooLong := next.CapturedAt.Sub(prev.firstAt) >= maxBlockSpan
	if !full && !tooLong && dayOf(next.CapturedAt).Equal(dayOf(prev.firstAt)) {
		tb.Fatalf("block %d: unexpected cut before (%v, %d): block %d had %d packets, %d bytes, began at %v",
			i, next.CapturedAt, next.ID, i-1, prev.count, len(prev.packets), prev.firstAt)
	}
}

// encodedLen is the size of a block of pkts, already sorted: its array.
func encodedLen(pkts []hepvault.Packet) int {
	sizes := encodedLens(pkts)
	return sizes[len(sizes)-1]
}

// encodedLens are the sizes of a block of none, the first, the first two...
// of pkts.
func encodedLens(pkts []hepvault.Packet) []int {
	e := metaEncoder{b: arrayHeader(nil, 0, 0)}
	sizes := []int{len(e.b)}
	for i := range pkts {
		e.add(&pkts[i])
		sizes = append(sizes, len(e.b))
	}
	return sizes
}

// decodeBlock decodes every packet of a block as the read path does, each
// made independent of the block (own).
func decodeBlock(tb testing.TB, b *block) []hepvault.Packet {
	tb.Helper()
	got, err := decodeAll(b.format, b.packets)
	if err != nil {
		tb.Fatalf("unexpected error decoding a block: %v", err)
	}
	return got
}

// decodeAll decodes every packet of a block, or returns the decoder's error.
// It fails, as a test must, if the decoder gives more packets than its
// array could hold or text that is not valid UTF-8 without NUL.
func decodeAll(format int16, packets []byte) ([]hepvault.Packet, error) {
	var d blockDecoder
	if err := d.reset(format, packets); err != nil {
		return nil, err
	}
	var out []hepvault.Packet
	for d.more() {
		if len(out) > len(packets)/4 {
			return out, fmt.Errorf("decoder gave %d packets from %d bytes: it does not end", len(out), len(packets))
		}
		var p hepvault.Packet
		if err := d.next(&p); err != nil {
			return out, err
		}
		own(&p)
		for _, s := range textFields(&p) {
			if !utf8.ValidString(*s) || strings.IndexByte(*s, 0) >= 0 {
				return out, fmt.Errorf("packet %d: text %q is not valid UTF-8 without NUL after own", len(out), *s)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// textFields are the text fields of p, which the store keeps through
// cleanText.
func textFields(p *hepvault.Packet) []*string {
	return []*string{&p.CorrelationID, &p.InvalidReason, &p.Method, &p.RequestURI, &p.Reason, &p.CallID,
		&p.CSeqMethod, &p.FromURI, &p.FromTag, &p.FromUser, &p.ToURI, &p.ToTag, &p.ToUser, &p.RURIUser,
		&p.PAIUser, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType, &p.CorrelationHeader}
}

// readBack is what the store returns for p: capture and receive times to
// the microsecond, rounded down, in UTC; addresses without a zone; text
// through cleanText; every other field as written.
func readBack(p *hepvault.Packet) hepvault.Packet {
	q := *p
	q.CapturedAt = time.UnixMicro(p.CapturedAt.UnixMicro()).UTC()
	q.ReceivedAt = time.UnixMicro(p.ReceivedAt.UnixMicro()).UTC()
	q.SrcIP, q.DstIP = p.SrcIP.WithZone(""), p.DstIP.WithZone("")
	for _, s := range textFields(&q) {
		*s = cleanText(*s)
	}
	return q
}

// diffPacket describes how got differs from want, or returns "".
func diffPacket(got, want hepvault.Packet) string {
	var d []string
	for _, t := range []struct {
		name      string
		got, want time.Time
	}{{"CapturedAt", got.CapturedAt, want.CapturedAt}, {"ReceivedAt", got.ReceivedAt, want.ReceivedAt}} {
		if !t.got.Equal(t.want) || t.got.Location() != time.UTC {
			d = append(d, fmt.Sprintf("%s: got %v; want %v in UTC", t.name, t.got, t.want))
		}
	}
	if !bytes.Equal(got.Raw, want.Raw) {
		d = append(d, fmt.Sprintf("Raw: got %q; want %q", got.Raw, want.Raw))
	}
	got.CapturedAt, got.ReceivedAt, got.Raw = time.Time{}, time.Time{}, nil
	want.CapturedAt, want.ReceivedAt, want.Raw = time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(got, want) {
		d = append(d, fmt.Sprintf("got %+v; want %+v", got, want))
	}
	return strings.Join(d, "; ")
}

// clonePackets copies pkts and their payloads.
func clonePackets(pkts []hepvault.Packet) []hepvault.Packet {
	out := slices.Clone(pkts)
	for i := range out {
		if out[i].Raw != nil {
			out[i].Raw = slices.Clone(out[i].Raw)
		}
	}
	return out
}

// sameBlocks reports whether two encodings are identical, block for block.
func sameBlocks(a, b []block) bool {
	return slices.EqualFunc(a, b, func(x, y block) bool {
		return x.firstAt.Equal(y.firstAt) && x.firstID == y.firstID && x.lastAt.Equal(y.lastAt) &&
			x.count == y.count && x.format == y.format && slices.Equal(x.terms, y.terms) && bytes.Equal(x.packets, y.packets)
	})
}

// cloneBlocks copies blocks off the buffers they share.
func cloneBlocks(blocks []block) []block {
	out := slices.Clone(blocks)
	for i := range out {
		out[i].terms = slices.Clone(out[i].terms)
		out[i].packets = slices.Clone(out[i].packets)
	}
	return out
}

func counts(blocks []block) []int32 {
	var n []int32
	for _, b := range blocks {
		n = append(n, b.count)
	}
	return n
}

const inviteRaw = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx1\r\n" +
	"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: blk-1@10.0.0.1\r\n" +
	"CSeq: 7 INVITE\r\nUser-Agent: phone\r\nContent-Length: 0\r\n\r\n"

// blockPacket is a packet with its fields extracted from raw, as the
// collector does, captured at at.
func blockPacket(at time.Time, id int64, raw string) hepvault.Packet {
	var m sip.Message
	err := sip.Parse([]byte(raw), &m)
	user := func(uri []byte) string { return string(sip.URIUser(uri)) }
	p := hepvault.Packet{
		ID: id, CapturedAt: at, ReceivedAt: at.Add(time.Millisecond), CaptureID: 1, HEPVersion: 3, ProtoType: 1,
		Transport: hepvault.TransportUDP, SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 5060,
		DstIP: netip.MustParseAddr("2001:db8::2"), DstPort: 5060, Kind: m.Kind, Raw: []byte(raw),
		Method: string(m.Method), RequestURI: string(m.RequestURI), StatusCode: m.StatusCode, Reason: string(m.Reason),
		CallID: string(m.CallID), CSeq: m.CSeqNum, CSeqMethod: string(m.CSeqMethod), FromURI: string(m.FromURI),
		FromTag: string(m.FromTag), ToURI: string(m.ToURI), ToTag: string(m.ToTag), ViaBranch: string(m.ViaBranch),
		FromUser: user(m.FromURI), ToUser: user(m.ToURI), RURIUser: user(m.RequestURI), PAIUser: user(m.PAIURI),
		UserAgent: string(m.UserAgent), Contact: string(m.Contact), ContentType: string(m.ContentType),
	}
	if err != nil {
		p.InvalidReason = err.Error()
	}
	return p
}

// spaced returns n packets from at, step apart, with ids from 1.
func spaced(at time.Time, n int, step time.Duration) []hepvault.Packet {
	pkts := make([]hepvault.Packet, n)
	for i := range pkts {
		pkts[i] = blockPacket(at.Add(time.Duration(i)*step), int64(i+1), inviteRaw)
	}
	return pkts
}

// withBody returns inviteRaw with a body of n bytes.
func withBody(n int) string {
	head := strings.Replace(inviteRaw, "Content-Length: 0", fmt.Sprintf("Content-Length: %d", n), 1)
	return head + strings.Repeat("v", n)
}

// sized returns a packet whose block alone is n bytes,
// its payload filler: n must be at least encodedLen of the packet with no
// payload.
func sized(tb testing.TB, at time.Time, id int64, n int) hepvault.Packet {
	tb.Helper()
	p := blockPacket(at, id, "")
	fixed := encodedLen([]hepvault.Packet{p})
	if n < fixed {
		tb.Fatalf("a block of one packet is at least %d bytes, not %d", fixed, n)
	}
	p.Raw = bytes.Repeat([]byte{'x'}, n-fixed)
	return p
}

func TestEncodeBlocks_Cuts(t *testing.T) {
	f := func(name string, pkts []hepvault.Packet, want []int32) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			blocks := checkBlocks(t, pkts)
			if got := counts(blocks); !slices.Equal(got, want) {
				t.Fatalf("unexpected block sizes; got %v; want %v", got, want)
			}
		})
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f("empty", nil, nil)
	f("one", spaced(at, 1, 0), []int32{1})
	f("128 packets fill one block", spaced(at, maxBlockPackets, time.Microsecond), []int32{128})
	f("129th packet starts a block", spaced(at, maxBlockPackets+1, time.Microsecond), []int32{128, 1})
	f("300 packets", spaced(at, 300, time.Microsecond), []int32{128, 128, 44})
	f("300 packets at one instant", spaced(at, 300, 0), []int32{128, 128, 44})
	f("300 packets in one microsecond", spaced(at, 300, time.Nanosecond), []int32{128, 128, 44})

	// Span: a block's last packet is less than maxBlockSpan after its
	// first, in stored (microsecond) times.
	f("just under the span", spaced(at, 2, maxBlockSpan-time.Microsecond), []int32{2})
	f("just under the span, to the nanosecond", spaced(at, 2, maxBlockSpan-time.Nanosecond), []int32{2})
	f("the span", spaced(at, 2, maxBlockSpan), []int32{1, 1})
	f("span counted from the first packet", spaced(at, 4, maxBlockSpan/2), []int32{2, 2})
	f("an hour apart", spaced(at, 3, time.Hour), []int32{1, 1, 1})
	// 999,999,600 ns apart, but a whole second apart once stored.
	f("span counted in stored microseconds", spaced(at.Add(500), 2, maxBlockSpan-400), []int32{1, 1})
	f("span counted in stored microseconds, under", spaced(at.Add(500), 2, maxBlockSpan-600), []int32{2})

	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	f("UTC day change", spaced(midnight.Add(-time.Millisecond), 2, time.Millisecond), []int32{1, 1})
	f("last microsecond of a day", spaced(midnight.Add(-time.Microsecond), 2, time.Microsecond), []int32{1, 1})
	f("last nanosecond of a day", spaced(midnight.Add(-time.Nanosecond), 2, time.Nanosecond), []int32{1, 1})
	f("first instant of a day", spaced(midnight, 2, time.Millisecond), []int32{2})
	epoch := time.Unix(0, 0).UTC()
	f("UTC day change before 1970", spaced(epoch.Add(-day-time.Millisecond), 2, 2*time.Millisecond), []int32{1, 1})
	f("UTC day change at 1970", spaced(epoch.Add(-time.Millisecond), 2, 2*time.Millisecond), []int32{1, 1})
	f("before 1970", spaced(epoch.Add(-day/2), 200, time.Millisecond), []int32{128, 72})
	f("before 1970, to the nanosecond", spaced(epoch.Add(-1500), 3, 700), []int32{3})
	f("year 1", spaced(time.Time{}, 3, 400*time.Millisecond), []int32{3})
	f("far future", spaced(time.Date(9999, 12, 31, 23, 59, 59, 500e6, time.UTC), 2, 600*time.Millisecond), []int32{1, 1})

	// Days are UTC days whatever the packets' location.
	india := time.FixedZone("IST", 5*3600+1800)
	f("local midnight is no cut", spaced(time.Date(2026, 3, 2, 0, 0, 0, 0, india).Add(-time.Millisecond), 2, 2*time.Millisecond), []int32{2})
	f("UTC midnight in another zone", spaced(midnight.In(india).Add(-time.Millisecond), 2, 2*time.Millisecond), []int32{1, 1})

	// Bytes: a block is closed once its array reaches maxBlockBytes.
	big := make([]hepvault.Packet, 5)
	for i := range big {
		big[i] = blockPacket(at.Add(time.Duration(i)), int64(i), withBody(100<<10))
	}
	f("100 KiB packets: the third reaches the limit", big, []int32{3, 2})
	huge := []hepvault.Packet{
		blockPacket(at, 1, withBody(maxBlockBytes+1)),
		blockPacket(at, 2, inviteRaw),
		blockPacket(at, 3, withBody(maxBlockBytes)),
	}
	f("a packet over the limit has a block of its own", huge, []int32{1, 2})
	under := []hepvault.Packet{blockPacket(at, 1, withBody(maxBlockBytes-2048)), blockPacket(at, 2, inviteRaw)}
	f("just under the bytes limit", under, []int32{2})
	one := len(arrayHeader(nil, 0, 0)) // a block's own bytes: its array's header
	f("one byte under the limit takes a packet more",
		[]hepvault.Packet{sized(t, at, 1, maxBlockBytes-1), blockPacket(at, 2, inviteRaw)}, []int32{2})
	f("at the limit the next packet starts a block",
		[]hepvault.Packet{sized(t, at, 1, maxBlockBytes), blockPacket(at, 2, inviteRaw)}, []int32{1, 1})
	f("two packets that reach the limit together",
		[]hepvault.Packet{sized(t, at, 1, 2000), sized(t, at, 2, maxBlockBytes-2000+one), sized(t, at, 3, 2000)}, []int32{2, 1})
	f("two packets one byte short of it",
		[]hepvault.Packet{sized(t, at, 1, 2000), sized(t, at, 2, maxBlockBytes-2000+one-1), sized(t, at, 3, 2000)}, []int32{3})

	// The limits together: the first one reached cuts.
	mixed := spaced(at, 130, maxBlockSpan/100) // the span cuts at 100, before the count at 128
	f("span before count", mixed, []int32{100, 30})
}

func TestEncodeBlocks_Order(t *testing.T) {
	f := func(name string, pkts []hepvault.Packet, wantIDs []int64) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			var ids []int64
			for _, b := range checkBlocks(t, pkts) {
				for _, p := range decodeBlock(t, &b) {
					ids = append(ids, p.ID)
				}
			}
			if !slices.Equal(ids, wantIDs) {
				t.Fatalf("unexpected ids in block order; got %v; want %v", ids, wantIDs)
			}
		})
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := func(offset time.Duration, id int64) hepvault.Packet {
		return blockPacket(at.Add(offset), id, inviteRaw)
	}
	us := time.Microsecond
	f("sorted", []hepvault.Packet{p(0, 1), p(us, 2), p(2*us, 3)}, []int64{1, 2, 3})
	f("by time", []hepvault.Packet{p(2*us, 1), p(0, 2), p(us, 3)}, []int64{2, 3, 1})
	f("equal times by id", []hepvault.Packet{p(0, 9), p(0, -3), p(0, 4), p(0, 0)}, []int64{-3, 0, 4, 9})
	f("time before id", []hepvault.Packet{p(us, 1), p(0, 2)}, []int64{2, 1})
	// Nanoseconds are not stored: within a microsecond, ids order.
	f("one microsecond by id", []hepvault.Packet{p(0, 9), p(999, 1), p(500, 5)}, []int64{1, 5, 9})
	f("next microsecond by time", []hepvault.Packet{p(1000, 1), p(999, 9)}, []int64{9, 1})
	f("duplicates kept adjacent", []hepvault.Packet{p(us, 5), p(0, 1), p(us, 3), p(us, 5), p(2*us, 0), p(us, 5)},
		[]int64{1, 3, 5, 5, 5, 0})
	f("extreme ids", []hepvault.Packet{p(0, math.MaxInt64), p(0, math.MinInt64), p(0, 0)}, []int64{math.MinInt64, 0, math.MaxInt64})
	f("ids against time", []hepvault.Packet{p(0, math.MaxInt64), p(us, math.MinInt64)}, []int64{math.MaxInt64, math.MinInt64})
	f("before 1970", []hepvault.Packet{
		blockPacket(time.Unix(-1, 999_999_500), 2, inviteRaw), blockPacket(time.Unix(-1, 999_999_000), 3, inviteRaw),
		blockPacket(time.Unix(0, 0), 1, inviteRaw),
	}, []int64{2, 3, 1})
	f("monotonic clock reading ignored", []hepvault.Packet{
		blockPacket(time.Now().Add(time.Millisecond), 2, inviteRaw), blockPacket(time.Now().Round(0), 1, inviteRaw),
	}, []int64{1, 2})
	f("locations ignored", []hepvault.Packet{
		blockPacket(at.In(time.FixedZone("west", -11*3600)).Add(us), 1, inviteRaw), blockPacket(at, 2, inviteRaw),
	}, []int64{2, 1})
}

// Duplicates with different contents keep their input order (the sort is
// stable): the batch is written again in the same order, so it still finds
// its first write.
func TestEncodeBlocks_DuplicatesKeepInputOrder(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a, b := blockPacket(at, 7, inviteRaw), blockPacket(at.Add(300), 7, inviteRaw) // one microsecond
	a.CaptureID, b.CaptureID = 1, 2
	c := blockPacket(at.Add(-time.Microsecond), 8, inviteRaw)
	var got []uint32
	for _, blk := range checkBlocks(t, []hepvault.Packet{a, c, b}) {
		for _, p := range decodeBlock(t, &blk) {
			got = append(got, p.CaptureID)
		}
	}
	if want := []uint32{1, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("unexpected capture ids in block order; got %v; want %v", got, want)
	}
}

// The same packets in any order give identical blocks, so a batch written
// again collides with its first write.
func TestEncodeBlocks_Deterministic(t *testing.T) {
	// 600 packets over about three spans: cut by count and by span.
	pkts := seed.New(seed.Config{Seed: 7, Rate: 200 / maxBlockSpan.Seconds()}).Packets(600)
	pkts = append(pkts, pkts[10], pkts[300], pkts[300]) // identical duplicates
	pkts[20].CallID, pkts[20].FromUser = "changed", "+49 30 7741528"
	pkts[21].CapturedAt = pkts[21].CapturedAt.Add(999) // nanoseconds, not stored
	want := cloneBlocks(encodeBlocks(pkts))
	var byCount, bySpan int
	for _, b := range want[:len(want)-1] {
		if b.count == maxBlockPackets {
			byCount++
		} else {
			bySpan++
		}
	}
	if byCount == 0 || bySpan == 0 {
		t.Fatalf("unexpected blocks %v: want some cut by count and some by span", counts(want))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		shuffled := slices.Clone(pkts)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if i == 0 {
			slices.Reverse(shuffled)
		}
		got := checkBlocks(t, shuffled)
		if !sameBlocks(got, want) {
			t.Fatalf("shuffle %d: unexpected blocks; got %d blocks %v; want %d blocks %v", i, len(got), counts(got), len(want), counts(want))
		}
	}
}

// The blocks of a batch share buffers: each must still own its bytes, so
// that one block, or a later batch, never changes another.
func TestEncodeBlocks_BlocksOwnTheirBytes(t *testing.T) {
	first := encodeBlocks(seed.New(seed.Config{Seed: 1, Rate: 20000}).Packets(400))
	want := cloneBlocks(first)
	if len(first) < 3 {
		t.Fatalf("unexpected %d blocks; want several", len(first))
	}
	encodeBlocks(seed.New(seed.Config{Seed: 2, Rate: 20000}).Packets(400))
	for i := range first {
		// Appending to a block's array or terms must not write into the
		// next block's.
		_ = append(first[i].packets, 0xEE)
		_ = append(first[i].terms, 42)
	}
	if !sameBlocks(first, want) {
		t.Fatalf("blocks changed by appends to other blocks or by a later batch")
	}
	setMetaOID(first[0].packets, 12345)
	if got := binary.BigEndian.Uint32(first[1].packets[metaElemOIDAt:]); got != 0 {
		t.Fatalf("setting the OID of one block's array set another's to %d", got)
	}
}

// fullPacket has every field set, to values at the edge of their types.
func fullPacket() hepvault.Packet {
	india := time.FixedZone("IST", 5*3600+1800)
	return hepvault.Packet{
		ID:            1<<62 + 7,
		CapturedAt:    time.Date(2026, 3, 1, 17, 30, 0, 123456789, india),
		ReceivedAt:    time.Date(2026, 3, 1, 12, 0, 0, 124000999, time.UTC),
		CaptureID:     math.MaxUint32,
		HEPVersion:    3,
		ProtoType:     1,
		CorrelationID: "corr-\x00-\xff-1",
		SrcIP:         netip.MustParseAddr("10.0.0.1"),
		SrcPort:       math.MaxUint16,
		DstIP:         netip.MustParseAddr("2001:db8::2"),
		DstPort:       1,
		Transport:     hepvault.TransportSCTP,
		Kind:          hepvault.KindResponse,
		InvalidReason: "not really: every field is set",
		Method:        "INVITE",
		RequestURI:    "sip:+49-30-7741528@example.com;user=phone",
		StatusCode:    699,
		Reason:        "Müller \xfe ☎",
		CallID:        "a84b4c76e66710@pc33.example.com",
		CSeq:          math.MaxUint32,
		CSeqMethod:    "INVITE",
		FromURI:       "sip:alice@example.com",
		FromTag:       "1928301774",
		FromUser:      "alice",
		ToURI:         "tel:+49-30-7741528",
		ToTag:         "a6c85cf",
		ToUser:        "+49 30 7741528",
		RURIUser:      "+49-30-7741528",
		PAIUser:       "49307741528",
		ViaBranch:     "z9hG4bK776asdhds",
		UserAgent:     "Yealink\x00SIP-T46S",
		Contact:       "<sip:alice@10.0.0.1:5060>",
		ContentType:   "application/sdp",
		Raw:           binaryRaw(),
		// P-Charging-Vector's icid-value
		CorrelationHeader: "1234bc9876e",
	}
}

// binaryRaw is every byte value, twice.
func binaryRaw() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// Every field of hepvault.Packet is set in fullPacket: a field added to
// Packet must be added to the codec (and to fullPacket).
func TestFullPacket_SetsEveryField(t *testing.T) {
	p := fullPacket()
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullPacket leaves %s zero: does the block format keep it?", v.Type().Field(i).Name)
		}
	}
}

func TestBlock_RoundTripEveryField(t *testing.T) {
	variant := func(f func(p *hepvault.Packet)) hepvault.Packet {
		p := fullPacket()
		f(&p)
		return p
	}
	cases := []struct {
		name string
		p    hepvault.Packet
	}{
		{"every field", fullPacket()},
		{"no field", hepvault.Packet{}},
		{"only raw", hepvault.Packet{Raw: []byte(inviteRaw)}},
		{"parsed from raw", blockPacket(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), 3, inviteRaw)},
		{"IPv6 to IPv4", variant(func(p *hepvault.Packet) {
			p.SrcIP, p.DstIP = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.7")
		})},
		{"IPv4 both", variant(func(p *hepvault.Packet) {
			p.SrcIP, p.DstIP = netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255")
		})},
		{"IPv6 both", variant(func(p *hepvault.Packet) {
			p.SrcIP, p.DstIP = netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
		})},
		{"IPv4-mapped IPv6 stays IPv6", variant(func(p *hepvault.Packet) {
			p.SrcIP, p.DstIP = netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("::ffff:0.0.0.0")
		})},
		{"zone not kept", variant(func(p *hepvault.Packet) { p.SrcIP = netip.MustParseAddr("fe80::1%eth0") })},
		{"no addresses", variant(func(p *hepvault.Packet) { p.SrcIP, p.DstIP = netip.Addr{}, netip.Addr{} })},
		{"empty raw", variant(func(p *hepvault.Packet) { p.Raw = []byte{} })},
		{"nil raw", variant(func(p *hepvault.Packet) { p.Raw = nil })},
		{"raw with NUL and invalid UTF-8", variant(func(p *hepvault.Packet) { p.Raw = []byte("INVITE \x00\xff\xfe sip:x SIP/2.0\r\n\r\n") })},
		{"large raw", variant(func(p *hepvault.Packet) { p.Raw = bytes.Repeat([]byte("0123456789abcdef"), 40000) })},
		{"NUL and invalid UTF-8 in every text field", variant(func(p *hepvault.Packet) {
			for i, s := range textFields(p) {
				*s = fmt.Sprintf("%d\x00\xc3\x28\xff\xed\xa0\x80%s\x00", i, *s)
			}
		})},
		{"a lone NUL or invalid byte", variant(func(p *hepvault.Packet) {
			p.CallID, p.FromUser, p.ToUser, p.PAIUser, p.Method = "\x00", "\xff", "\x00\x00", "\x80", "\xc0"
		})},
		{"text that is already U+FFFD", variant(func(p *hepvault.Packet) { p.CallID = "a\uFFFDb" })},
		{"long text", variant(func(p *hepvault.Packet) { p.UserAgent = strings.Repeat("Ω", 70000) })},
		{"users as people write them", variant(func(p *hepvault.Packet) {
			p.FromUser, p.ToUser, p.RURIUser, p.PAIUser = "+49 (30) 774-1528", "Bob.Smith", "*97", "+1.555.0100"
		})},
		{"smallest numbers", variant(func(p *hepvault.Packet) {
			p.ID, p.CaptureID, p.SrcPort, p.DstPort, p.CSeq = math.MinInt64, 0, 0, 0, 0
			p.HEPVersion, p.ProtoType, p.Transport, p.Kind, p.StatusCode = 0, 0, 0, hepvault.KindInvalid, 0
		})},
		{"largest numbers", variant(func(p *hepvault.Packet) {
			p.ID, p.HEPVersion, p.ProtoType, p.Transport, p.Kind = math.MaxInt64, 255, 255, 255, 255
			p.StatusCode = math.MaxInt16
		})},
		{"odd status codes", variant(func(p *hepvault.Packet) { p.StatusCode = 99 })},
		{"negative status code", variant(func(p *hepvault.Packet) { p.StatusCode = math.MinInt16 })},
		{"CSeq number without method", variant(func(p *hepvault.Packet) { p.CSeq, p.CSeqMethod = 5, "" })},
		{"CSeq method without number", variant(func(p *hepvault.Packet) { p.CSeq, p.CSeqMethod = 0, "ACK" })},
		{"no receive time", variant(func(p *hepvault.Packet) { p.ReceivedAt = time.Time{} })},
		{"capture time year 1", variant(func(p *hepvault.Packet) { p.CapturedAt = time.Time{} })},
		{"before 1970, to the nanosecond", variant(func(p *hepvault.Packet) {
			p.CapturedAt, p.ReceivedAt = time.Unix(-86401, 999_999_999), time.Unix(-1, 1)
		})},
		{"before 2000", variant(func(p *hepvault.Packet) { p.CapturedAt = time.Date(1999, 12, 31, 23, 59, 59, 999_999_000, time.UTC) })},
		{"far future", variant(func(p *hepvault.Packet) { p.CapturedAt = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC) })},
		{"monotonic clock reading", variant(func(p *hepvault.Packet) { p.CapturedAt, p.ReceivedAt = time.Now(), time.Now() })},
	}
	// Each alone, then all in one block.
	var all []hepvault.Packet
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkBlocks(t, []hepvault.Packet{c.p})
			blocks := encodeBlocks([]hepvault.Packet{c.p})
			got := decodeBlock(t, &blocks[0])[0]
			if got.Raw == nil {
				t.Fatalf("Raw read back nil; want an empty slice at least")
			}
		})
		p := c.p
		p.CapturedAt, p.ID = time.Date(2026, 3, 1, 12, 0, 0, i*1000, time.UTC), int64(i)
		all = append(all, p)
	}
	checkBlocks(t, all)
}

// A packet read back refers to the block until own gives it memory of its
// own: after own, the block's bytes can be reused.
func TestBlock_OwnCopies(t *testing.T) {
	in := fullPacket()
	in.Raw = []byte(inviteRaw)
	blocks := encodeBlocks([]hepvault.Packet{in})
	b := cloneBlocks(blocks)[0]
	var d blockDecoder
	if err := d.reset(b.format, b.packets); err != nil {
		t.Fatal(err)
	}
	var p hepvault.Packet
	if err := d.next(&p); err != nil {
		t.Fatal(err)
	}
	own(&p)
	for i := range b.packets {
		b.packets[i] = 'X'
	}
	if d := diffPacket(p, readBack(&in)); d != "" {
		t.Fatalf("packet changed with the block's bytes after own: %s", d)
	}
}

// Text is stored valid UTF-8 without NUL, and "" as NULL; every other
// absent value is NULL too, as migrations/0001_init.up.sql says.
func TestBlock_EmptyIsNull(t *testing.T) {
	nullable := map[string]bool{}
	for _, c := range metaColumns {
		switch c.oid {
		case oidText, oidInet:
			nullable[c.name] = true
		}
	}
	nullable["status_code"], nullable["cseq"] = true, true
	check := func(name string, p hepvault.Packet, wantNull func(col string) bool) {
		t.Helper()
		blocks := encodeBlocks([]hepvault.Packet{p})
		cols := splitRecords(t, blocks[0].packets)[0]
		if len(cols) != numMetaColumns {
			t.Fatalf("%s: unexpected %d columns; want %d", name, len(cols), numMetaColumns)
		}
		for i, c := range cols {
			if c.oid != metaColumns[i].oid {
				t.Fatalf("%s: column %s: unexpected type OID %d; want %d", name, metaColumns[i].name, c.oid, metaColumns[i].oid)
			}
			if c.null != wantNull(metaColumns[i].name) {
				t.Fatalf("%s: column %s: unexpected NULL %v; want %v", name, metaColumns[i].name, c.null, !c.null)
			}
			if !c.null && c.oid == oidText && (!utf8.Valid(c.v) || bytes.IndexByte(c.v, 0) >= 0 || len(c.v) == 0) {
				t.Fatalf("%s: column %s: text %q is not valid UTF-8 without NUL, or empty", name, metaColumns[i].name, c.v)
			}
		}
	}
	check("no field", hepvault.Packet{}, func(col string) bool { return nullable[col] })
	check("every field", fullPacket(), func(string) bool { return false })
	cseq := fullPacket()
	cseq.CSeq, cseq.CSeqMethod = 0, ""
	check("no CSeq", cseq, func(col string) bool { return col == "cseq" || col == "cseq_method" })
	zero := fullPacket()
	zero.CSeq = 0
	check("CSeq 0 with a method", zero, func(string) bool { return false })
}

// column is one attribute of a packet_v1 value.
type column struct {
	oid  uint32
	v    []byte
	null bool
}

// splitRecords splits a block's packet_v1[] into its values' columns.
func splitRecords(tb testing.TB, packets []byte) [][]column {
	tb.Helper()
	if len(packets) < 20 {
		tb.Fatalf("array of %d bytes", len(packets))
	}
	n := int(binary.BigEndian.Uint32(packets[12:]))
	off := 20
	var out [][]column
	for range n {
		rec, null, err := readValue(packets, &off)
		if err != nil || null {
			tb.Fatalf("element %d: unreadable (null %v, err %v)", len(out), null, err)
		}
		ncols := int(binary.BigEndian.Uint32(rec))
		roff := 4
		var cols []column
		for range ncols {
			oid := binary.BigEndian.Uint32(rec[roff:])
			roff += 4
			v, null, err := readValue(rec, &roff)
			if err != nil {
				tb.Fatalf("element %d column %d: %v", len(out), len(cols), err)
			}
			cols = append(cols, column{oid, v, null})
		}
		out = append(out, cols)
	}
	return out
}

// joinRecords makes a block's packet_v1[] of values of records' columns.
func joinRecords(records [][]column) []byte {
	b := arrayHeader(nil, 0, len(records))
	for _, cols := range records {
		rec := binary.BigEndian.AppendUint32(nil, uint32(len(cols)))
		for _, c := range cols {
			rec = binary.BigEndian.AppendUint32(rec, c.oid)
			if c.null {
				rec = binary.BigEndian.AppendUint32(rec, math.MaxUint32)
				continue
			}
			rec = binary.BigEndian.AppendUint32(rec, uint32(len(c.v)))
			rec = append(rec, c.v...)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(rec)))
		b = append(b, rec...)
	}
	return b
}

// rewriteColumns returns packets with fn applied to each value's columns.
func rewriteColumns(tb testing.TB, packets []byte, fn func(cols []column) []column) []byte {
	tb.Helper()
	recs := splitRecords(tb, packets)
	for i := range recs {
		recs[i] = fn(recs[i])
	}
	return joinRecords(recs)
}

// clearColumn says what a packet reads as without each column of
// packet_v1 (NULL, or written before the column existed).
var clearColumn = map[string]func(p *hepvault.Packet){
	"captured_at":        func(p *hepvault.Packet) { p.CapturedAt = time.Time{} },
	"id":                 func(p *hepvault.Packet) { p.ID = 0 },
	"received_at":        func(p *hepvault.Packet) { p.ReceivedAt = time.Time{} },
	"capture_id":         func(p *hepvault.Packet) { p.CaptureID = 0 },
	"hep_version":        func(p *hepvault.Packet) { p.HEPVersion = 0 },
	"proto_type":         func(p *hepvault.Packet) { p.ProtoType = 0 },
	"correlation_id":     func(p *hepvault.Packet) { p.CorrelationID = "" },
	"src_ip":             func(p *hepvault.Packet) { p.SrcIP = netip.Addr{} },
	"src_port":           func(p *hepvault.Packet) { p.SrcPort = 0 },
	"dst_ip":             func(p *hepvault.Packet) { p.DstIP = netip.Addr{} },
	"dst_port":           func(p *hepvault.Packet) { p.DstPort = 0 },
	"transport":          func(p *hepvault.Packet) { p.Transport = 0 },
	"kind":               func(p *hepvault.Packet) { p.Kind = 0 },
	"invalid_reason":     func(p *hepvault.Packet) { p.InvalidReason = "" },
	"method":             func(p *hepvault.Packet) { p.Method = "" },
	"request_uri":        func(p *hepvault.Packet) { p.RequestURI = "" },
	"status_code":        func(p *hepvault.Packet) { p.StatusCode = 0 },
	"reason":             func(p *hepvault.Packet) { p.Reason = "" },
	"call_id":            func(p *hepvault.Packet) { p.CallID = "" },
	"cseq":               func(p *hepvault.Packet) { p.CSeq = 0 },
	"cseq_method":        func(p *hepvault.Packet) { p.CSeqMethod = "" },
	"from_uri":           func(p *hepvault.Packet) { p.FromURI = "" },
	"from_tag":           func(p *hepvault.Packet) { p.FromTag = "" },
	"from_user":          func(p *hepvault.Packet) { p.FromUser = "" },
	"to_uri":             func(p *hepvault.Packet) { p.ToURI = "" },
	"to_tag":             func(p *hepvault.Packet) { p.ToTag = "" },
	"to_user":            func(p *hepvault.Packet) { p.ToUser = "" },
	"ruri_user":          func(p *hepvault.Packet) { p.RURIUser = "" },
	"pai_user":           func(p *hepvault.Packet) { p.PAIUser = "" },
	"via_branch":         func(p *hepvault.Packet) { p.ViaBranch = "" },
	"user_agent":         func(p *hepvault.Packet) { p.UserAgent = "" },
	"contact":            func(p *hepvault.Packet) { p.Contact = "" },
	"content_type":       func(p *hepvault.Packet) { p.ContentType = "" },
	"raw":                func(p *hepvault.Packet) { p.Raw = nil },
	"correlation_header": func(p *hepvault.Packet) { p.CorrelationHeader = "" },
}

// A packet_v1 value written before later columns existed has fewer: the
// decoder reads the missing ones as empty. One written after columns were
// added has more: the decoder passes over them.
func TestBlockDecode_FewerOrMoreColumns(t *testing.T) {
	if len(clearColumn) != numMetaColumns {
		t.Fatalf("clearColumn covers %d columns; packet_v1 has %d", len(clearColumn), numMetaColumns)
	}
	for _, c := range metaColumns {
		if clearColumn[c.name] == nil {
			t.Fatalf("clearColumn lacks column %s", c.name)
		}
	}
	in := []hepvault.Packet{fullPacket(), blockPacket(time.Date(2026, 3, 1, 12, 0, 0, 5000, time.UTC), 5, inviteRaw)}
	b := encodeBlocks(in)[0]
	full := decodeBlock(t, &b)
	for k := 0; k <= numMetaColumns; k++ {
		packets := rewriteColumns(t, b.packets, func(cols []column) []column { return cols[:k] })
		got, err := decodeAll(b.format, packets)
		if err != nil {
			t.Fatalf("%d columns: %v", k, err)
		}
		for i := range got {
			want := full[i]
			for _, c := range metaColumns[k:] {
				clearColumn[c.name](&want)
			}
			if d := diffPacket(got[i], want); d != "" {
				t.Fatalf("%d columns, packet %d: %s", k, i, d)
			}
			if got[i].Raw == nil {
				t.Fatalf("%d columns, packet %d: Raw nil; want empty at least", k, i)
			}
		}
	}
	for _, extra := range [][]column{
		{{oid: oidText, v: []byte("a column of tomorrow")}},
		{{oid: oidInt8, null: true}, {oid: 99999, v: []byte{1, 2, 3}}},
	} {
		packets := rewriteColumns(t, b.packets, func(cols []column) []column { return append(cols, extra...) })
		got, err := decodeAll(b.format, packets)
		if err != nil {
			t.Fatalf("%d more columns: %v", len(extra), err)
		}
		for i := range got {
			if d := diffPacket(got[i], full[i]); d != "" {
				t.Fatalf("%d more columns, packet %d: %s", len(extra), i, d)
			}
		}
	}
}

// A block not written by this encoder (by SQL, by a damaged disk) may hold
// text PostgreSQL would refuse, or NULL where hepvault writes none: the
// packet read back is still valid UTF-8 without NUL, and a NULL reads as
// empty.
func TestBlockDecode_ForeignValues(t *testing.T) {
	b := encodeBlocks([]hepvault.Packet{fullPacket()})[0]
	bad := []byte("a\x00\xff\xc3")
	packets := rewriteColumns(t, b.packets, func(cols []column) []column {
		for i := range cols {
			if cols[i].oid == oidText {
				cols[i] = column{oid: oidText, v: bad}
			}
		}
		return cols
	})
	got, err := decodeAll(b.format, packets)
	if err != nil {
		t.Fatal(err)
	}
	// NUL becomes U+FFFD, and so does each run of bytes that is not UTF-8.
	const want = "a\uFFFD\uFFFD"
	for _, s := range textFields(&got[0]) {
		if *s != want {
			t.Fatalf("unexpected text read back; got %q; want %q", *s, want)
		}
	}
	nulls := rewriteColumns(t, b.packets, func(cols []column) []column {
		for i := range cols {
			cols[i] = column{oid: cols[i].oid, null: true}
		}
		return cols
	})
	got, err = decodeAll(b.format, nulls)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffPacket(got[0], hepvault.Packet{Raw: []byte{}}); d != "" || got[0].Raw == nil {
		t.Fatalf("a value of NULLs: unexpected packet: %s (Raw nil %v)", d, got[0].Raw == nil)
	}
}

// A damaged block gives errBadBlock, never a panic, never a packet made up
// beyond its array.
func TestBlockDecode_Damaged(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := encodeBlocks([]hepvault.Packet{fullPacket(), blockPacket(at, 2, inviteRaw), blockPacket(at, 3, "")})[0]
	if _, err := decodeAll(good.format, good.packets); err != nil {
		t.Fatal(err)
	}
	put32 := func(at int, v uint32) []byte {
		b := slices.Clone(good.packets)
		binary.BigEndian.PutUint32(b[at:], v)
		return b
	}
	col := func(i int, fn func(c *column)) []byte {
		return rewriteColumns(t, good.packets, func(cols []column) []column {
			fn(&cols[i])
			return cols
		})
	}
	// The offsets in good.packets of the first value's length, and of its
	// first column.
	const rec0, col0 = 20, 28
	// A block of the first packet whose raw says it is a byte longer than
	// it is.
	first := splitRecords(t, good.packets)[0]
	rawOverrun := joinRecords([][]column{first})
	after := 0 // bytes of the columns after raw
	for _, c := range first[colRaw+1:] {
		after += 8 + len(c.v)
	}
	binary.BigEndian.PutUint32(rawOverrun[len(rawOverrun)-after-len(first[colRaw].v)-4:], uint32(len(first[colRaw].v)+1))
	cases := []struct {
		name    string
		format  int16
		packets []byte
	}{
		{"format 0", 0, good.packets},
		{"format 3", 3, good.packets},
		{"format -1", -1, good.packets},
		{"no array", format1, nil},
		{"header cut", format1, good.packets[:11]},
		{"header cut to 12 bytes", format1, good.packets[:12]},
		{"header cut after ndim", format1, good.packets[:19]},
		{"two dimensions", format1, put32(0, 2)},
		{"more elements than bytes", format1, put32(12, uint32(len(good.packets)+1))},
		{"more elements than present", format1, put32(12, 4)},
		{"NULL packet", format1, put32(rec0, math.MaxUint32)},
		{"value longer than the array", format1, put32(rec0, uint32(len(good.packets)))},
		{"negative value length", format1, put32(rec0, math.MaxUint32-1)},
		{"more columns than bytes", format1, put32(rec0+4, 1<<20)},
		{"wrong column type", format1, put32(col0, oidInt4)},
		{"call_id as a number", format1, col(colCallID, func(c *column) { *c = column{oid: oidInt8, v: make([]byte, 8)} })},
		{"raw as text", format1, col(colRaw, func(c *column) { c.oid = oidText })},
		{"time of 4 bytes", format1, col(colCapturedAt, func(c *column) { c.v = c.v[:4] })},
		{"time of 9 bytes", format1, col(colReceivedAt, func(c *column) { c.v = append(slices.Clone(c.v), 0) })},
		{"id of 3 bytes", format1, col(colID, func(c *column) { c.v = c.v[:3] })},
		{"port of 0 bytes", format1, col(colSrcPort, func(c *column) { c.v = []byte{} })},
		{"inet family 4", format1, col(colSrcIP, func(c *column) { c.v = []byte{4, 32, 0, 4, 10, 0, 0, 1} })},
		{"inet of 7 bytes", format1, col(colSrcIP, func(c *column) { c.v = c.v[:7] })},
		{"inet IPv4 of 16 address bytes", format1, col(colSrcIP, func(c *column) { c.v = []byte{2, 32, 0, 16, 1, 2, 3, 4} })},
		{"inet IPv6 with IPv4's length", format1, col(colDstIP, func(c *column) { c.v = append([]byte{3, 128, 0, 4}, make([]byte, 16)...) })},
		{"raw longer than its value", format1, rawOverrun},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeAll(c.format, c.packets)
			if !errors.Is(err, errBadBlock) {
				t.Fatalf("unexpected error; got %v (%d packets); want errBadBlock", err, len(got))
			}
		})
	}
	// Any cut or changed byte: errBadBlock or packets, nothing else.
	damage := func(name string, packets []byte) {
		t.Helper()
		got, err := decodeAll(good.format, packets)
		if err != nil && !errors.Is(err, errBadBlock) {
			t.Fatalf("%s: unexpected error %v; want nil or errBadBlock", name, err)
		}
		if len(got) > int(good.count) {
			t.Fatalf("%s: %d packets from a block of %d", name, len(got), good.count)
		}
	}
	for n := range len(good.packets) {
		damage(fmt.Sprintf("cut to %d bytes", n), good.packets[:n])
	}
	for i := range len(good.packets) {
		for _, v := range []byte{0, 1, 0x7f, 0x80, 0xff} {
			b := slices.Clone(good.packets)
			b[i] = v
			damage(fmt.Sprintf("byte %d set to %#x", i, v), b)
		}
	}
}

// The spool keeps blocks as appendBlock writes them; readBlock reads them
// back as they were, one after the other.
func TestBlockSpool_RoundTrip(t *testing.T) {
	pkts := seed.New(seed.Config{Seed: 5, Rate: 2000}).Packets(700)
	pkts = append(pkts, fullPacket(), hepvault.Packet{CapturedAt: time.Unix(-3, 5)}, hepvault.Packet{ID: 9})
	blocks := encodeBlocks(pkts)
	setMetaOID(blocks[0].packets, 16404) // as after a write: the spool keeps it
	var buf []byte
	for i := range blocks {
		buf = appendBlock(buf, &blocks[i])
	}
	rest := buf
	for i := range blocks {
		var got block
		var err error
		got, rest, err = readBlock(rest)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		want := blocks[i]
		if !sameBlocks([]block{got}, []block{want}) || got.firstAt.Location() != time.UTC || got.lastAt.Location() != time.UTC {
			t.Fatalf("block %d: unexpected block read back;\ngot  first (%v, %d) last %v count %d format %d %d terms %d bytes"+
				"\nwant first (%v, %d) last %v count %d format %d %d terms %d bytes", i,
				got.firstAt, got.firstID, got.lastAt, got.count, got.format, len(got.terms), len(got.packets),
				want.firstAt, want.firstID, want.lastAt, want.count, want.format, len(want.terms), len(want.packets))
		}
		if g, w := decodeBlock(t, &got), decodeBlock(t, &want); !reflect.DeepEqual(g, w) {
			t.Fatalf("block %d: packets differ once spooled", i)
		}
	}
	if len(rest) != 0 {
		t.Fatalf("unexpected %d bytes after the last block", len(rest))
	}
	// A block with no terms, and one of the longest span.
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, b := range []block{
		{firstAt: at, lastAt: at, firstID: -5, count: 0, format: currentFormat},
		{firstAt: at, lastAt: at.Add(maxBlockSpan - time.Microsecond), firstID: math.MinInt64, count: math.MaxInt32, format: currentFormat,
			terms: []int32{math.MinInt32, -1, 0, math.MaxInt32}, packets: []byte{1}},
	} {
		got, rest, err := readBlock(appendBlock(nil, &b))
		if err != nil || len(rest) != 0 || !sameBlocks([]block{got}, []block{b}) {
			t.Fatalf("unexpected block read back; got %+v, %d bytes left, err %v; want %+v", got, len(rest), err, b)
		}
	}
}

// A spooled block cut short or damaged gives errBadBlock, never a panic.
func TestBlockSpool_Damaged(t *testing.T) {
	b := encodeBlocks([]hepvault.Packet{fullPacket(), blockPacket(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), 2, inviteRaw)})[0]
	buf := appendBlock(nil, &b)
	for n := range len(buf) {
		if _, _, err := readBlock(buf[:n]); !errors.Is(err, errBadBlock) {
			t.Fatalf("block cut to %d of %d bytes: unexpected error %v; want errBadBlock", n, len(buf), err)
		}
	}
	long := b
	long.lastAt = long.firstAt.Add(maxBlockSpan + time.Microsecond)
	if _, _, err := readBlock(appendBlock(nil, &long)); !errors.Is(err, errBadBlock) {
		t.Fatalf("block spanning more than %v: unexpected error %v; want errBadBlock", maxBlockSpan, err)
	}
	for i := range buf {
		for _, v := range []byte{0, 0x7f, 0x80, 0xff} {
			d := slices.Clone(buf)
			d[i] = v
			got, _, err := readBlock(d)
			if err != nil {
				if !errors.Is(err, errBadBlock) {
					t.Fatalf("byte %d set to %#x: unexpected error %v; want errBadBlock", i, v, err)
				}
				continue
			}
			if _, err := decodeAll(got.format, got.packets); err != nil && !errors.Is(err, errBadBlock) {
				t.Fatalf("byte %d set to %#x: unexpected decode error %v; want errBadBlock", i, v, err)
			}
		}
	}
}

// A block's terms find every packet a filter selects: for any filter a
// packet matches, each of the filter's term groups has a term of the
// packet's block. (The index may find blocks with no match; it must never
// miss one.)
func TestTerms_FindEveryMatch(t *testing.T) {
	pkts := append(seed.New(seed.Config{Seed: 11, Rate: 5000}).Packets(300), fullPacket())
	for i := 0; i < len(pkts); i += 5 { // users written as people write them
		pkts[i].FromUser, pkts[i].ToUser = "+49 (30) 7741528", "49-30-7741528"
		pkts[i].RURIUser, pkts[i].PAIUser = "+4930 7741528", "bob\xff"
	}
	rng := rand.New(rand.NewPCG(3, 4))
	other := func(user string) string { // the same key, written otherwise
		if key := hepvault.UserKey(user); len(key) > 2 && (key != user || strings.Trim(user, "0123456789") == "") {
			return "+" + key[:2] + " " + key[2:]
		}
		return user
	}
	for _, b := range encodeBlocks(pkts) {
		terms := map[int32]bool{}
		for _, t := range b.terms {
			terms[t] = true
		}
		for _, p := range decodeBlock(t, &b) {
			for range 20 {
				f := filterFor(rng, &p, other)
				if !matches(&f, &p) {
					t.Fatalf("filter %+v does not match the packet it was made from: %+v", f, p)
				}
				for _, g := range termGroups(&f) {
					if !slices.ContainsFunc(g, func(t int32) bool { return terms[t] }) {
						t.Fatalf("filter %+v matches packet %d but its block's terms miss group %v", f, p.ID, g)
					}
				}
			}
		}
	}
}

// filterFor makes a filter that p matches, of some of p's values, each list
// with up to two values p does not have.
func filterFor(rng *rand.Rand, p *hepvault.Packet, other func(string) string) hepvault.Filter {
	var f hepvault.Filter
	pick := func() bool { return rng.IntN(3) == 0 }
	if pick() {
		f.Kinds = listWith(rng, p.Kind, (p.Kind+1)%3)
	}
	if pick() && p.Method != "" {
		f.Methods = listWith(rng, p.Method, "PRACK", "INFO")
	}
	if pick() && p.StatusCode >= 100 && p.StatusCode <= 699 {
		f.Statuses = listWith(rng, p.StatusCode, 199, 699)
	}
	if pick() && p.StatusCode >= 100 && p.StatusCode <= 699 {
		f.StatusClasses = listWith(rng, hepvault.ClassOf(p.StatusCode), 1, 6)
	}
	if pick() && p.CallID != "" {
		f.CallID = p.CallID
	}
	if pick() && p.CorrelationID != "" {
		f.CorrelationID = p.CorrelationID
	}
	if pick() && p.SrcIP.IsValid() {
		f.SrcIPs = listWith(rng, p.SrcIP, netip.MustParseAddr("192.0.2.99"), netip.MustParseAddr("2001:db8::99"))
	}
	if pick() && p.DstIP.IsValid() {
		f.DstIPs = listWith(rng, p.DstIP, netip.MustParseAddr("192.0.2.99"))
	}
	if pick() && p.DstIP.IsValid() && p.SrcIP.IsValid() {
		f.IPs = listWith(rng, []netip.Addr{p.SrcIP, p.DstIP}[rng.IntN(2)], netip.MustParseAddr("192.0.2.99"))
	}
	if pick() {
		f.CaptureIDs = listWith(rng, p.CaptureID, 77777, 0)
	}
	users := []string{p.FromUser, p.ToUser, p.RURIUser, p.PAIUser}
	for i, dst := range []*string{&f.FromUser, &f.ToUser, &f.RURIUser} {
		if pick() && users[i] != "" {
			*dst = other(users[i])
		}
	}
	if pick() {
		if u := users[rng.IntN(len(users))]; u != "" {
			f.User = other(u)
		}
	}
	return f
}

// listWith returns v and up to two of others, in random order.
func listWith[T any](rng *rand.Rand, v T, others ...T) []T {
	l := append([]T{v}, others[:rng.IntN(min(2, len(others))+1)]...)
	rng.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
	return l
}

// TestTermSet_DistinctSorted checks the set a block's terms are gathered in
// against sorting and compacting, across growth, repeats and the term 0.
func TestTermSet_DistinctSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s termSet
	for round, n := range []int{0, 1, 5, 255, 256, 257, 3000, 40} {
		var all []int32
		for range n {
			v := int32(rng.Uint32())
			switch rng.IntN(4) {
			case 0:
				v = int32(rng.IntN(50)) // repeats, and the term 0
			case 1:
				if len(all) > 0 {
					v = all[rng.IntN(len(all))]
				}
			}
			all = append(all, v)
			s.add(v)
		}
		slices.Sort(all)
		want := slices.Compact(all)
		if got := s.sorted(); !slices.Equal(got, want) {
			t.Fatalf("round %d: %d distinct terms, want %d", round, len(got), len(want))
		}
	}
}
