package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// querySeedEnv overrides the seed, to replay a failure or try others.
const querySeedEnv = "HEPVAULT_QUERY_MODEL_SEED"

// TestQueryModel writes random packets the ways the collector and a replay
// do (batches out of capture order, written twice, overlapping stored ones,
// WriteBatchOnce) and checks that random queries return exactly what a
// sorted list of the distinct packets says.
func TestQueryModel(t *testing.T) {
	seed := uint64(20260611)
	if s := os.Getenv(querySeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", querySeedEnv, err)
		}
		seed = v
	}
	t.Logf("seed %d (set %s to replay)", seed, querySeedEnv)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// A few minutes across midnight UTC: blocks and partitions split there.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-3 * time.Minute)
	db, dsn := openDSN(t)
	m := writeModel(t, r, db, genModelPackets(r, start, modelPackets))
	copies := storedCopies(t, dsn)
	t.Logf("%d distinct packets from %s to %s, %d copies stored", len(m.pkts), m.pkts[0].CapturedAt,
		m.pkts[len(m.pkts)-1].CapturedAt, copies)
	if copies <= len(m.pkts) {
		t.Fatalf("no packet stored twice: the reads' dedupe goes untested")
	}

	for range 200 {
		m.check(t, db, randomFilter(r, m))
	}
	kindResp, agent := hepvault.KindResponse, uint32(3)
	for _, f := range []hepvault.Filter{
		{Limit: 500}, {Limit: 97}, {Limit: store.MaxLimit},
		{From: start.Add(time.Minute), To: start.Add(70 * time.Second), Limit: 13},
		{Kind: &kindResp, Limit: 250}, {CaptureID: &agent, Limit: 31},
		{CallID: modelClean(modelCalls[1]), Limit: 7},
	} {
		m.pageAll(t, db, f)
	}
	for _, id := range modelCalls {
		id = modelClean(id)
		got, err := db.Call(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := m.query(hepvault.Filter{CallID: id, Limit: store.MaxLimit})
		if len(want) == 0 {
			t.Fatalf("call %q: the model holds no packet: the test tests nothing", id)
		}
		if d := packetsDiff(got, want); d != "" {
			t.Fatalf("unexpected call %q: %s", id, d)
		}
	}
}

// storedCopies counts the packets in packet_blocks, each copy once.
func storedCopies(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT sum(count) FROM packet_blocks`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// modelPackets is more than MaxLimit, so that a query of everything has more.
const modelPackets = store.MaxLimit + 500

// modelKey identifies a packet: (capture time, id).
type modelKey struct{ at, id int64 }

func keyOfPacket(p *hepvault.Packet) modelKey { return modelKey{p.CapturedAt.UnixNano(), p.ID} }

// model is what the store should hold: each packet once, as read back, in
// (capture time, id) order.
type model struct{ pkts []hepvault.Packet }

// writeModel writes pkts in random batches, in arrival order, some of them
// twice or together with packets stored before, and returns the model.
func writeModel(t *testing.T, r *rand.Rand, db *store.DB, pkts []hepvault.Packet) *model {
	t.Helper()
	ctx := context.Background()
	w := store.NewWriter(db, store.DefaultWriterConfig())
	var written []hepvault.Packet
	var batches, twice, overlapping, once int
	for len(pkts) > 0 {
		n := min(batchSize(r), len(pkts))
		batch := pkts[:n:n]
		pkts = pkts[n:]
		batches++
		switch k := r.IntN(10); {
		case k < 6:
			mustWrite(t, w, batch)
		case k < 7: // an unknown outcome, retried
			mustWrite(t, w, batch)
			mustWrite(t, w, batch)
			twice++
		case k < 8: // a spool replayed into the steady path
			mustWrite(t, w, mixIn(r, batch, written))
			overlapping++
		default:
			got, err := w.WriteBatchOnce(ctx, mixIn(r, batch, written))
			if err != nil {
				t.Fatal(err)
			}
			if got != int64(len(batch)) {
				t.Fatalf("unexpected new packets from WriteBatchOnce; got %d; want %d", got, len(batch))
			}
			once++
		}
		written = append(written, batch...)
		if r.IntN(10) == 0 { // everything in it stored already
			if got, err := w.WriteBatchOnce(ctx, mixIn(r, nil, written)); err != nil || got != 0 {
				t.Fatalf("unexpected WriteBatchOnce of stored packets; got %d new, err %v; want 0", got, err)
			}
		}
	}
	t.Logf("%d batches: %d written twice, %d with stored packets, %d with WriteBatchOnce", batches, twice, overlapping, once)
	m := &model{pkts: make([]hepvault.Packet, 0, len(written))}
	for _, p := range written {
		m.pkts = append(m.pkts, readBack(p))
	}
	slices.SortFunc(m.pkts, func(a, b hepvault.Packet) int {
		if c := a.CapturedAt.Compare(b.CapturedAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return m
}

func mustWrite(t *testing.T, w *store.Writer, pkts []hepvault.Packet) {
	t.Helper()
	if err := w.WriteBatch(context.Background(), pkts); err != nil {
		t.Fatal(err)
	}
}

// batchSize is mostly small, as the writer flushes under light load, now and
// then up to 3000.
func batchSize(r *rand.Rand) int {
	switch k := r.IntN(20); {
	case k < 14:
		return 1 + r.IntN(30)
	case k < 19:
		return 1 + r.IntN(300)
	}
	return 1 + r.IntN(3000)
}

// mixIn returns batch with packets of written, a run of them (whole blocks
// again) and single ones (blocks that only partly overlap), maybe shuffled.
func mixIn(r *rand.Rand, batch, written []hepvault.Packet) []hepvault.Packet {
	out := slices.Clone(batch)
	if len(written) == 0 {
		return out
	}
	taken := map[int]bool{}
	from := r.IntN(len(written))
	for i := from; i < min(len(written), from+1+r.IntN(300)); i++ {
		taken[i] = true
	}
	for range r.IntN(30) {
		taken[r.IntN(len(written))] = true
	}
	for i := range taken {
		out = append(out, written[i])
	}
	if r.IntN(2) == 0 {
		r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	} else {
		slices.SortFunc(out, func(a, b hepvault.Packet) int { return int(a.ID - b.ID) })
	}
	return out
}

// readBack is p as the store returns it: text made valid UTF-8 without NUL,
// and HeadersFromRaw set when no field differs from what Raw parses to.
func readBack(p hepvault.Packet) hepvault.Packet {
	for _, s := range []*string{&p.InvalidReason, &p.CorrelationID, &p.Method, &p.RequestURI, &p.Reason, &p.CallID,
		&p.CSeqMethod, &p.FromURI, &p.FromTag, &p.ToURI, &p.ToTag, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType} {
		*s = modelClean(*s)
	}
	if !p.HeadersFromRaw {
		var m sip.Message
		sip.Parse(p.Raw, &m)
		// genModelPackets sets by hand no field but User-Agent.
		p.HeadersFromRaw = p.UserAgent == modelClean(string(m.UserAgent))
	}
	return p
}

// modelClean is how the store makes text fit PostgreSQL and JSON.
func modelClean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// query returns what Packets should: the first matches and whether more remain.
func (m *model) query(f hepvault.Filter) ([]hepvault.Packet, bool) {
	limit := f.Limit
	if limit <= 0 || limit > store.MaxLimit {
		limit = store.MaxLimit
	}
	all := m.matches(f)
	if len(all) > limit {
		return all[:limit], true
	}
	return all, false
}

// matches returns every packet f selects, whatever its Limit.
func (m *model) matches(f hepvault.Filter) []hepvault.Packet {
	var out []hepvault.Packet
	for i := range m.pkts {
		if modelMatches(&f, &m.pkts[i]) {
			out = append(out, m.pkts[i])
		}
	}
	return out
}

func modelMatches(f *hepvault.Filter, p *hepvault.Packet) bool {
	if f.After != nil {
		if c := p.CapturedAt.Compare(f.After.CapturedAt); c < 0 || c == 0 && p.ID <= f.After.ID {
			return false
		}
	}
	return (f.From.IsZero() || !p.CapturedAt.Before(f.From)) &&
		(f.To.IsZero() || p.CapturedAt.Before(f.To)) &&
		(f.Kind == nil || p.Kind == *f.Kind) &&
		(f.Method == "" || p.Method == f.Method) &&
		(f.Status == 0 || p.StatusCode == f.Status) &&
		(f.CallID == "" || p.CallID == f.CallID) &&
		(!f.SrcIP.IsValid() || p.SrcIP == f.SrcIP) &&
		(!f.DstIP.IsValid() || p.DstIP == f.DstIP) &&
		(f.CaptureID == nil || p.CaptureID == *f.CaptureID)
}

// check runs f and compares what it returns with the model.
func (m *model) check(t *testing.T, db *store.DB, f hepvault.Filter) ([]hepvault.Packet, bool) {
	t.Helper()
	got, more, err := db.Packets(context.Background(), f)
	if err != nil {
		t.Fatalf("%s: %v", describeFilter(f), err)
	}
	want, wantMore := m.query(f)
	if d := packetsDiff(got, want); d != "" {
		t.Fatalf("%s: unexpected packets: %s", describeFilter(f), d)
	}
	if more != wantMore {
		t.Fatalf("%s: unexpected more; got %v; want %v", describeFilter(f), more, wantMore)
	}
	return got, more
}

// pageAll pages through f with After and checks each page and that the pages
// together hold every match once.
func (m *model) pageAll(t *testing.T, db *store.DB, f hepvault.Filter) {
	t.Helper()
	var all []hepvault.Packet
	for {
		got, more := m.check(t, db, f)
		all = append(all, got...)
		if !more {
			break
		}
		last := got[len(got)-1]
		f.After = &hepvault.Position{CapturedAt: last.CapturedAt, ID: last.ID}
	}
	f.After = nil
	want := m.matches(f)
	if d := packetsDiff(all, want); d != "" {
		t.Fatalf("paging %s: unexpected packets: %s", describeFilter(f), d)
	}
}

// randomFilter mixes windows of many widths (exact packet times, so bounds
// fall on packets, and times between them), cursors and field conditions.
func randomFilter(r *rand.Rand, m *model) hepvault.Filter {
	var f hepvault.Filter
	anchor := func() time.Time {
		at := m.pkts[r.IntN(len(m.pkts))].CapturedAt
		if r.IntN(2) == 0 {
			at = at.Add(time.Duration(r.IntN(4_000_000) - 2_000_000)) // to the nanosecond, as HEPv1 packets are
		}
		return at
	}
	widths := []time.Duration{-time.Millisecond, 0, time.Microsecond, 50 * time.Microsecond, time.Millisecond, 30 * time.Millisecond,
		400 * time.Millisecond, time.Second, 1500 * time.Millisecond, 5 * time.Second, time.Minute, 10 * time.Minute}
	switch r.IntN(5) {
	case 0:
		f.From = anchor()
	case 1:
		f.To = anchor()
	case 2, 3:
		f.From = anchor()
		f.To = f.From.Add(widths[r.IntN(len(widths))])
	}
	if r.IntN(4) == 0 {
		p := m.pkts[r.IntN(len(m.pkts))]
		f.After = &hepvault.Position{CapturedAt: p.CapturedAt, ID: p.ID + int64(r.IntN(3)-1)}
	}
	if r.IntN(6) == 0 {
		k := hepvault.Kind(r.IntN(3))
		f.Kind = &k
	}
	if r.IntN(6) == 0 {
		f.Method = modelRequests[r.IntN(len(modelRequests))]
	}
	if r.IntN(8) == 0 {
		f.Status = modelResponses[r.IntN(len(modelResponses))].code
	}
	if r.IntN(6) == 0 {
		f.CallID = modelClean(modelCalls[r.IntN(len(modelCalls))])
		if r.IntN(4) == 0 {
			f.CallID = m.pkts[r.IntN(len(m.pkts))].CallID
		}
	}
	if r.IntN(8) == 0 {
		f.SrcIP = modelAddrs[r.IntN(len(modelAddrs))]
	}
	if r.IntN(8) == 0 {
		f.DstIP = modelAddrs[r.IntN(len(modelAddrs))]
	}
	if r.IntN(8) == 0 {
		id := uint32(r.IntN(len(modelAgents) + 1)) // 0: no such agent
		f.CaptureID = &id
	}
	switch r.IntN(10) {
	case 0:
		f.Limit = store.MaxLimit
	case 1:
		f.Limit = 0 // the store's cap
	case 2:
		f.Limit = 1 + r.IntN(5)
	default:
		f.Limit = 1 + r.IntN(500)
	}
	return f
}

func describeFilter(f hepvault.Filter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "filter{from %v to %v", f.From, f.To)
	if f.After != nil {
		fmt.Fprintf(&b, " after (%v, %d)", f.After.CapturedAt, f.After.ID)
	}
	if f.Kind != nil {
		fmt.Fprintf(&b, " kind %v", *f.Kind)
	}
	if f.CaptureID != nil {
		fmt.Fprintf(&b, " capture_id %d", *f.CaptureID)
	}
	fmt.Fprintf(&b, " method %q status %d call %q src %v dst %v limit %d}", f.Method, f.Status, f.CallID, f.SrcIP, f.DstIP, f.Limit)
	return b.String()
}

// packetsDiff says where got and want first differ, or "" when they are equal.
func packetsDiff(got, want []hepvault.Packet) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("got %d packets; want %d; first missing (%v, %d)", len(got), len(want), want[i].CapturedAt, want[i].ID)
		case i >= len(want):
			return fmt.Sprintf("got %d packets; want %d; first extra (%v, %d)", len(got), len(want), got[i].CapturedAt, got[i].ID)
		case !reflect.DeepEqual(got[i], want[i]):
			return fmt.Sprintf("packet %d of %d:\ngot  %+v\nwant %+v", i, len(want), got[i], want[i])
		}
	}
	return ""
}
