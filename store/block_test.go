package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/seed"
)

// checkBlocks runs encodeBlocks on in and checks what must hold for any
// packets: the caller's slice is untouched; every packet reads back as
// readBack says, in (capture time, id) order; each block obeys the limits,
// is cut only when one is reached, and its row describes its packets.
func checkBlocks(tb testing.TB, in []hepvault.Packet) []blockRow {
	tb.Helper()
	before := slices.Clone(in)
	var buf []byte
	rows := encodeBlocks(in, &buf)
	if !reflect.DeepEqual(in, before) {
		tb.Fatalf("encodeBlocks changed the caller's packets")
	}
	want := slices.Clone(in)
	slices.SortStableFunc(want, func(a, b hepvault.Packet) int { return comparePackets(&a, &b) })
	var m sip.Message
	k := 0
	for i, r := range rows {
		got := decodeAll(tb, r.data)
		if len(got) != int(r.count) || len(got) == 0 || k+len(got) > len(want) {
			tb.Fatalf("block %d: unexpected packet count; got %d decoded, row says %d, %d packets left", i, len(got), r.count, len(want)-k)
		}
		blk := want[k : k+len(got)]
		for j := range got {
			if d := diffPacket(got[j], readBack(&blk[j], &m)); d != "" {
				tb.Fatalf("block %d packet %d (id %d): unexpected packet read back: %s", i, j, blk[j].ID, d)
			}
		}
		checkRow(tb, i, r, blk, got)
		if i > 0 {
			checkCut(tb, i, rows[i-1], want[k-int(rows[i-1].count):k], &blk[0])
		}
		k += len(got)
	}
	if k != len(want) {
		tb.Fatalf("unexpected number of packets in blocks; got %d; want %d", k, len(want))
	}
	return rows
}

// checkRow checks the limits of one block and that its row's columns match
// its packets: blk as written (sorted), got as read back.
func checkRow(tb testing.TB, i int, r blockRow, blk, got []hepvault.Packet) {
	tb.Helper()
	first, last := got[0].CapturedAt, got[len(got)-1].CapturedAt
	if r.count > maxBlockPackets {
		tb.Fatalf("block %d: unexpected count; got %d; want at most %d", i, r.count, maxBlockPackets)
	}
	if span := last.Sub(first); span < 0 || span >= maxBlockSpan {
		tb.Fatalf("block %d: unexpected span of capture time; got %v; want in [0, %v)", i, span, maxBlockSpan)
	}
	y1, m1, d1 := first.UTC().Date()
	y2, m2, d2 := last.UTC().Date()
	if y1 != y2 || m1 != m2 || d1 != d2 {
		tb.Fatalf("block %d: unexpected UTC days; got %v to %v; want one day", i, first, last)
	}
	if n := encodedLen(blk[:len(blk)-1]); n >= maxBlockBytes {
		tb.Fatalf("block %d: unexpected size before its last packet; got %d bytes; want < %d", i, n, maxBlockBytes)
	}
	if !r.firstAt.Equal(first) || r.firstID != got[0].ID || !r.lastAt.Equal(last) {
		tb.Fatalf("block %d: unexpected row keys; got first (%v, %d) last %v; want first (%v, %d) last %v",
			i, r.firstAt, r.firstID, r.lastAt, first, got[0].ID, last)
	}
	want := []int64{}
	for _, p := range blk {
		if id := cleanText(p.CallID); id != "" {
			want = append(want, CallHash(id))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if r.calls == nil || !slices.Equal(r.calls, want) {
		tb.Fatalf("block %d: unexpected calls; got %v; want %v", i, r.calls, want)
	}
}

// checkCut checks that the block before next was closed because adding
// next would have broken a limit.
func checkCut(tb testing.TB, i int, prev blockRow, prevPkts []hepvault.Packet, next *hepvault.Packet) {
	tb.Helper()
	full := prev.count == maxBlockPackets || len(prev.data) >= maxBlockBytes
	tooLong := next.CapturedAt.Sub(prevPkts[0].CapturedAt) >= maxBlockSpan
	y1, m1, d1 := prevPkts[0].CapturedAt.UTC().Date()
	y2, m2, d2 := next.CapturedAt.UTC().Date()
	if !full && !tooLong && y1 == y2 && m1 == m2 && d1 == d2 {
		tb.Fatalf("block %d: unexpected cut before (%v, %d): block %d had %d packets, %d bytes, began at %v",
			i, next.CapturedAt, next.ID, i-1, prev.count, len(prev.data), prevPkts[0].CapturedAt)
	}
}

// encodedLen is the size of a block of pkts, already sorted.
func encodedLen(pkts []hepvault.Packet) int {
	var e blockEncoder
	var b []byte
	for i := range pkts {
		b = e.add(b, &pkts[i])
	}
	return len(b)
}

// decodeAll decodes every packet of a block, as the read path does.
func decodeAll(tb testing.TB, data []byte) []hepvault.Packet {
	tb.Helper()
	var out []hepvault.Packet
	d := newBlockDecoder(data)
	var p hepvault.Packet
	for d.next(&p) {
		out = append(out, p)
	}
	if d.Err() != nil {
		tb.Fatalf("unexpected error decoding a block: %v", d.Err())
	}
	return out
}

// readBack is what the store returns for p: times in UTC, text fields
// through cleanText, the header fields of a HeadersFromRaw packet as
// parsing Raw gives them, and a CSeq number only with a CSeq method (as
// the store did before blocks). HeadersFromRaw comes back set when every
// header field agrees with Raw.
func readBack(p *hepvault.Packet, m *sip.Message) hepvault.Packet {
	q := *p
	q.CapturedAt, q.ReceivedAt = p.CapturedAt.UTC(), p.ReceivedAt.UTC()
	q.InvalidReason, q.CorrelationID = cleanText(p.InvalidReason), cleanText(p.CorrelationID)
	sip.Parse(p.Raw, m)
	fields := []struct {
		f      *string
		parsed []byte
	}{
		{&q.Method, m.Method}, {&q.RequestURI, m.RequestURI}, {&q.Reason, m.Reason}, {&q.CallID, m.CallID},
		{&q.CSeqMethod, m.CSeqMethod}, {&q.FromURI, m.FromURI}, {&q.FromTag, m.FromTag}, {&q.ToURI, m.ToURI},
		{&q.ToTag, m.ToTag}, {&q.ViaBranch, m.ViaBranch}, {&q.UserAgent, m.UserAgent}, {&q.Contact, m.Contact},
		{&q.ContentType, m.ContentType},
	}
	cseq := func(n uint32, method string) uint32 {
		if method == "" {
			return 0
		}
		return n
	}
	parsedCSeq := cseq(m.CSeqNum, string(m.CSeqMethod))
	agree := p.HeadersFromRaw || cseq(p.CSeq, p.CSeqMethod) == parsedCSeq
	for _, f := range fields {
		if p.HeadersFromRaw {
			*f.f = string(f.parsed)
		}
		agree = agree && *f.f == string(f.parsed)
		*f.f = cleanText(*f.f)
	}
	q.CSeq = cseq(p.CSeq, p.CSeqMethod)
	if p.HeadersFromRaw {
		q.CSeq = parsedCSeq
	}
	q.HeadersFromRaw = agree
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

// sameRows reports whether two encodings are identical, row for row.
func sameRows(a, b []blockRow) bool {
	return slices.EqualFunc(a, b, func(x, y blockRow) bool {
		return x.firstAt.Equal(y.firstAt) && x.firstID == y.firstID && x.lastAt.Equal(y.lastAt) &&
			x.count == y.count && slices.Equal(x.calls, y.calls) && bytes.Equal(x.data, y.data)
	})
}

func counts(rows []blockRow) []int32 {
	var n []int32
	for _, r := range rows {
		n = append(n, r.count)
	}
	return n
}

// blockPacket is a packet as the collector builds it, captured at at.
func blockPacket(at time.Time, id int64, raw string) hepvault.Packet {
	var m sip.Message
	err := sip.Parse([]byte(raw), &m)
	p := hepvault.Packet{
		ID: id, CapturedAt: at, ReceivedAt: at.Add(time.Millisecond), CaptureID: 1, HEPVersion: 3, ProtoType: 1,
		Transport: hepvault.TransportUDP, SrcIP: netip.MustParseAddr("10.0.0.1"), SrcPort: 5060,
		DstIP: netip.MustParseAddr("2001:db8::2"), DstPort: 5060, Kind: m.Kind, Raw: []byte(raw),
		Method: string(m.Method), RequestURI: string(m.RequestURI), StatusCode: m.StatusCode, Reason: string(m.Reason),
		CallID: string(m.CallID), CSeq: m.CSeqNum, CSeqMethod: string(m.CSeqMethod), FromURI: string(m.FromURI),
		FromTag: string(m.FromTag), ToURI: string(m.ToURI), ToTag: string(m.ToTag), ViaBranch: string(m.ViaBranch),
		UserAgent: string(m.UserAgent), Contact: string(m.Contact), ContentType: string(m.ContentType),
		HeadersFromRaw: true,
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

func TestEncodeBlocks_Cuts(t *testing.T) {
	f := func(name string, pkts []hepvault.Packet, want []int32) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			rows := checkBlocks(t, pkts)
			if got := counts(rows); !slices.Equal(got, want) {
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
	f("just under the span", spaced(at, 2, maxBlockSpan-1), []int32{2})
	f("the span", spaced(at, 2, maxBlockSpan), []int32{1, 1})
	f("span counted from the first packet", spaced(at, 4, maxBlockSpan/2), []int32{2, 2})
	f("an hour apart", spaced(at, 3, time.Hour), []int32{1, 1, 1})

	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	f("UTC day change", spaced(midnight.Add(-time.Millisecond), 2, time.Millisecond), []int32{1, 1})
	f("last nanosecond of a day", spaced(midnight.Add(-time.Nanosecond), 2, time.Nanosecond), []int32{1, 1})
	f("first instant of a day", spaced(midnight, 2, time.Millisecond), []int32{2})
	epoch := time.Unix(0, 0).UTC()
	f("UTC day change before 1970", spaced(epoch.Add(-day-time.Millisecond), 2, 2*time.Millisecond), []int32{1, 1})
	f("UTC day change at 1970", spaced(epoch.Add(-time.Millisecond), 2, 2*time.Millisecond), []int32{1, 1})
	f("before 1970", spaced(epoch.Add(-day/2), 200, time.Millisecond), []int32{128, 72})
	f("year 1", spaced(time.Time{}, 3, 400*time.Millisecond), []int32{3})
	f("far future", spaced(time.Date(9999, 12, 31, 23, 59, 59, 500e6, time.UTC), 2, 600*time.Millisecond), []int32{1, 1})

	// Days are UTC days whatever the packets' location.
	india := time.FixedZone("IST", 5*3600+1800)
	f("local midnight is no cut", spaced(time.Date(2026, 3, 2, 0, 0, 0, 0, india).Add(-time.Millisecond), 2, 2*time.Millisecond), []int32{2})
	f("UTC midnight in another zone", spaced(midnight.In(india).Add(-time.Millisecond), 2, 2*time.Millisecond), []int32{1, 1})

	// 100 KiB packets: the block reaches 256 KiB with its third.
	big := make([]hepvault.Packet, 5)
	for i := range big {
		big[i] = blockPacket(at.Add(time.Duration(i)), int64(i), withBody(100<<10))
	}
	f("bytes", big, []int32{3, 2})
	huge := []hepvault.Packet{
		blockPacket(at, 1, withBody(maxBlockBytes+1)),
		blockPacket(at, 2, inviteRaw),
		blockPacket(at, 3, withBody(maxBlockBytes)),
	}
	f("a packet over the limit has a block of its own", huge, []int32{1, 2})
	under := []hepvault.Packet{blockPacket(at, 1, withBody(maxBlockBytes-2048)), blockPacket(at, 2, inviteRaw)}
	f("just under the bytes limit", under, []int32{2})
}

func TestEncodeBlocks_Order(t *testing.T) {
	f := func(name string, pkts []hepvault.Packet, wantIDs []int64) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			var ids []int64
			for _, r := range checkBlocks(t, pkts) {
				for _, p := range decodeAll(t, r.data) {
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
	f("sorted", []hepvault.Packet{p(0, 1), p(1, 2), p(2, 3)}, []int64{1, 2, 3})
	f("by time", []hepvault.Packet{p(2, 1), p(0, 2), p(1, 3)}, []int64{2, 3, 1})
	f("equal times by id", []hepvault.Packet{p(0, 9), p(0, -3), p(0, 4), p(0, 0)}, []int64{-3, 0, 4, 9})
	f("time before id", []hepvault.Packet{p(1, 1), p(0, 2)}, []int64{2, 1})
	f("duplicates kept adjacent", []hepvault.Packet{p(1, 5), p(0, 1), p(1, 3), p(1, 5), p(2, 0), p(1, 5)},
		[]int64{1, 3, 5, 5, 5, 0})
	f("extreme ids", []hepvault.Packet{p(0, 1<<63-1), p(0, -1<<63), p(0, 0)}, []int64{-1 << 63, 0, 1<<63 - 1})
	f("ids against time", []hepvault.Packet{p(0, 1<<63-1), p(1, -1<<63)}, []int64{1<<63 - 1, -1 << 63})
	f("monotonic clock reading ignored", []hepvault.Packet{
		blockPacket(time.Now().Add(time.Millisecond), 2, inviteRaw), blockPacket(time.Now().Round(0), 1, inviteRaw),
	}, []int64{1, 2})
}

// Duplicates with different contents keep their input order (the sort is
// stable): the batch is written again in the same order, so it still finds
// its first write.
func TestEncodeBlocks_DuplicatesKeepInputOrder(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a, b := blockPacket(at, 7, inviteRaw), blockPacket(at, 7, inviteRaw)
	a.CaptureID, b.CaptureID = 1, 2
	c := blockPacket(at.Add(-1), 8, inviteRaw)
	var got []uint32
	for _, r := range checkBlocks(t, []hepvault.Packet{a, c, b}) {
		for _, p := range decodeAll(t, r.data) {
			got = append(got, p.CaptureID)
		}
	}
	if want := []uint32{1, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("unexpected capture ids in block order; got %v; want %v", got, want)
	}
}

// The same packets in any order give identical rows, so a batch written
// again collides with its first write.
func TestEncodeBlocks_Deterministic(t *testing.T) {
	pkts := seed.New(seed.Config{Seed: 7, Rate: 400}).Packets(600) // spans > 1 s: cut by span and count
	pkts = append(pkts, pkts[10], pkts[300], pkts[300])            // identical duplicates
	pkts[20].HeadersFromRaw, pkts[20].CallID = false, "changed"
	var buf []byte
	want := cloneRows(encodeBlocks(pkts, &buf))
	if len(want) < 5 {
		t.Fatalf("unexpected number of blocks; got %d; want at least 5 to cover several cuts", len(want))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		shuffled := slices.Clone(pkts)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if i == 0 {
			slices.Reverse(shuffled)
		}
		got := checkBlocks(t, shuffled)
		if !sameRows(got, want) {
			t.Fatalf("shuffle %d: unexpected rows; got %d blocks %v; want %d blocks %v", i, len(got), counts(got), len(want), counts(want))
		}
	}
}

// cloneRows copies rows off the encoder's buffer.
func cloneRows(rows []blockRow) []blockRow {
	out := slices.Clone(rows)
	for i := range out {
		out[i].data = slices.Clone(out[i].data)
	}
	return out
}

// A buffer reused from an earlier batch gives the same rows as a new one.
func TestEncodeBlocks_ReusedBuffer(t *testing.T) {
	first := seed.New(seed.Config{Seed: 1}).Packets(400)
	second := seed.New(seed.Config{Seed: 2}).Packets(200)
	var fresh []byte
	want := cloneRows(encodeBlocks(second, &fresh))
	var buf []byte
	encodeBlocks(first, &buf)
	if got := encodeBlocks(second, &buf); !sameRows(got, want) {
		t.Fatalf("unexpected rows from a reused buffer; got %v; want %v", counts(got), counts(want))
	}
}
