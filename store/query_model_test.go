package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// querySeedEnv overrides the seed, to replay a failure or try others.
const querySeedEnv = "HEPVAULT_QUERY_MODEL_SEED"

// TestQueryModel writes random packets the ways the collector and a replay
// do (batches out of capture order, written twice, overlapping stored ones,
// WriteBatchOnce) and checks that random queries, over every condition a
// Filter has, return exactly what a sorted list of the distinct packets
// says, the model applying each filter by its own plain code.
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

	// Each condition must have selected something in some query, or the
	// test tests nothing of it.
	found := map[string]int{}
	var queries, empty int
	for range modelQueries {
		f := randomFilter(r, m)
		got, _ := m.check(t, db, f)
		queries++
		if len(got) == 0 {
			empty++
			continue
		}
		for _, c := range conditions(f) {
			found[c]++
		}
	}
	t.Logf("%d random queries, %d empty; conditions in queries that found packets: %v", queries, empty, found)
	for _, c := range allConditions {
		if found[c] == 0 {
			t.Errorf("no random query with condition %s found a packet: the test does not test it", c)
		}
	}

	ip := netip.MustParseAddr
	for _, f := range []hepvault.Filter{
		{Limit: 500}, {Limit: 97}, {Limit: store.MaxLimit},
		{From: start.Add(time.Minute), To: start.Add(70 * time.Second), Limit: 13},
		{Kinds: []hepvault.Kind{hepvault.KindResponse}, Limit: 250},
		{Kinds: []hepvault.Kind{hepvault.KindInvalid, hepvault.KindRequest}, Methods: []string{"BYE", "INVITE"}, Limit: 300},
		{CaptureIDs: []uint32{3, hepv1Agent}, Limit: 31},
		{CallID: modelClean(modelCalls[1]), Limit: 7},
		{User: "+49 30 7741528", Limit: 100},
		{FromUser: "bob", StatusClasses: []hepvault.StatusClass{2, 4}, Limit: 40},
		{IPs: []netip.Addr{ip("192.0.2.7"), ip("2001:db8::1")}, Statuses: []int{180, 486}, Limit: 50},
		{Text: "Yealink", From: start, To: start.Add(10 * time.Minute), Limit: 400},
	} {
		m.pageAll(t, db, f)
	}
	for _, id := range modelCalls {
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

// modelQueries is how many random filters TestQueryModel runs.
const modelQueries = 300

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

// modelKey identifies a packet as stored: (capture microsecond, id).
type modelKey struct{ us, id int64 }

func keyOfPacket(p *hepvault.Packet) modelKey { return modelKey{p.CapturedAt.UnixMicro(), p.ID} }

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
	// Stored counts the copies WriteBatch stores of a batch that overlaps
	// stored packets in blocks of its own: at least every packet once.
	if s := w.Stats(); s.Stored < uint64(len(written)) || s.Rejected != 0 {
		t.Fatalf("unexpected writer counters; got stored %d, rejected %d; want at least %d, 0", s.Stored, s.Rejected, len(written))
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

// readBack is p as the store returns it: times to the microsecond in UTC,
// text made valid UTF-8 without NUL, every field as written (none parsed
// again from Raw).
func readBack(p hepvault.Packet) hepvault.Packet {
	p.CapturedAt = time.UnixMicro(p.CapturedAt.UnixMicro()).UTC()
	p.ReceivedAt = time.UnixMicro(p.ReceivedAt.UnixMicro()).UTC()
	for _, s := range []*string{&p.InvalidReason, &p.CorrelationID, &p.Method, &p.RequestURI, &p.Reason, &p.CallID,
		&p.CSeqMethod, &p.FromURI, &p.FromTag, &p.FromUser, &p.ToURI, &p.ToTag, &p.ToUser, &p.RURIUser, &p.PAIUser,
		&p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType} {
		*s = modelClean(*s)
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

// modelMatches is what Filter's doc says, plainly: every condition set
// holds; a list holds when one of its values does; text values compare as
// the store keeps text (modelClean); a user compares by hepvault.UserKey,
// and User is any of the four users.
func modelMatches(f *hepvault.Filter, p *hepvault.Packet) bool {
	if f.After != nil {
		if c := p.CapturedAt.Compare(f.After.CapturedAt); c < 0 || c == 0 && p.ID <= f.After.ID {
			return false
		}
	}
	if !f.From.IsZero() && p.CapturedAt.Before(f.From) || !f.To.IsZero() && !p.CapturedAt.Before(f.To) {
		return false
	}
	class := hepvault.StatusClass(0)
	if p.StatusCode >= 100 && p.StatusCode <= 699 {
		class = hepvault.StatusClass(p.StatusCode / 100)
	}
	text := func(want, got string) bool { return want == "" || modelClean(want) == got }
	user := func(want, got string) bool {
		return got != "" && hepvault.UserKey(modelClean(want)) == hepvault.UserKey(got)
	}
	return anyOf(f.Kinds, func(k hepvault.Kind) bool { return k == p.Kind }) &&
		anyOf(f.Methods, func(m string) bool { return modelClean(m) == p.Method }) &&
		anyOf(f.Statuses, func(s int) bool { return s == p.StatusCode }) &&
		anyOf(f.StatusClasses, func(c hepvault.StatusClass) bool { return c == class }) &&
		anyOf(f.SrcIPs, func(a netip.Addr) bool { return a == p.SrcIP }) &&
		anyOf(f.DstIPs, func(a netip.Addr) bool { return a == p.DstIP }) &&
		anyOf(f.IPs, func(a netip.Addr) bool { return a == p.SrcIP || a == p.DstIP }) &&
		anyOf(f.CaptureIDs, func(c uint32) bool { return c == p.CaptureID }) &&
		text(f.CallID, p.CallID) && text(f.CorrelationID, p.CorrelationID) &&
		(f.FromUser == "" || user(f.FromUser, p.FromUser)) &&
		(f.ToUser == "" || user(f.ToUser, p.ToUser)) &&
		(f.RURIUser == "" || user(f.RURIUser, p.RURIUser)) &&
		(f.User == "" || user(f.User, p.FromUser) || user(f.User, p.ToUser) || user(f.User, p.RURIUser) || user(f.User, p.PAIUser)) &&
		(f.Text == "" || bytes.Contains(p.Raw, []byte(f.Text)))
}

// anyOf reports whether list is empty or ok holds for one of its values.
func anyOf[T any](list []T, ok func(T) bool) bool {
	return len(list) == 0 || slices.ContainsFunc(list, ok)
}

// textWindowOK says whether a filter with Text has the window it needs.
func textWindowOK(f hepvault.Filter) bool {
	return f.Text == "" || !f.From.IsZero() && !f.To.IsZero() && f.To.Sub(f.From) <= hepvault.MaxTextWindow
}

// check runs f and compares what it returns with the model.
func (m *model) check(t *testing.T, db *store.DB, f hepvault.Filter) ([]hepvault.Packet, bool) {
	t.Helper()
	got, more, err := db.Packets(context.Background(), f)
	if !textWindowOK(f) {
		if !errors.Is(err, hepvault.ErrInvalid) {
			t.Fatalf("%s: unexpected error %v (%d packets); want ErrInvalid: text needs a window of at most %v",
				describeFilter(f), err, len(got), hepvault.MaxTextWindow)
		}
		return nil, false
	}
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
	if len(want) == 0 {
		t.Fatalf("paging %s: the model holds no match: the test tests nothing", describeFilter(f))
	}
	if d := packetsDiff(all, want); d != "" {
		t.Fatalf("paging %s: unexpected packets: %s", describeFilter(f), d)
	}
}

// allConditions names the conditions of a Filter randomFilter sets.
var allConditions = []string{"window", "after", "kinds", "methods", "statuses", "status_classes", "src_ips", "dst_ips",
	"ips", "capture_ids", "call_id", "correlation_id", "from_user", "to_user", "ruri_user", "user", "text"}

// conditions names the conditions f sets.
func conditions(f hepvault.Filter) []string {
	var c []string
	for _, x := range []struct {
		name string
		set  bool
	}{
		{"window", !f.From.IsZero() || !f.To.IsZero()}, {"after", f.After != nil},
		{"kinds", f.Kinds != nil}, {"methods", f.Methods != nil}, {"statuses", f.Statuses != nil},
		{"status_classes", f.StatusClasses != nil}, {"src_ips", f.SrcIPs != nil}, {"dst_ips", f.DstIPs != nil},
		{"ips", f.IPs != nil}, {"capture_ids", f.CaptureIDs != nil}, {"call_id", f.CallID != ""},
		{"correlation_id", f.CorrelationID != ""}, {"from_user", f.FromUser != ""}, {"to_user", f.ToUser != ""},
		{"ruri_user", f.RURIUser != ""}, {"user", f.User != ""}, {"text", f.Text != ""},
	} {
		if x.set {
			c = append(c, x.name)
		}
	}
	return c
}

// randomFilter mixes windows of many widths (exact packet times, so bounds
// fall on packets, and times between them), cursors, and up to four field
// conditions, lists of one to three values. Values come mostly from one
// packet of the model, written as people write them (a number with or
// without '+' and separators), so that combined conditions still find
// something; the rest are values of other packets or of none.
func randomFilter(r *rand.Rand, m *model) hepvault.Filter {
	var f hepvault.Filter
	anchor := func() time.Time {
		at := m.pkts[r.IntN(len(m.pkts))].CapturedAt
		if r.IntN(2) == 0 {
			at = at.Add(time.Duration(r.IntN(4_000_000) - 2_000_000)) // to the nanosecond
		}
		return at
	}
	widths := []time.Duration{-time.Millisecond, 0, time.Microsecond, 50 * time.Microsecond, time.Millisecond, 30 * time.Millisecond,
		400 * time.Millisecond, time.Second, 1500 * time.Millisecond, 5 * time.Second, time.Minute, 10 * time.Minute, 24 * time.Hour}
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

	p := &m.pkts[r.IntN(len(m.pkts))] // the packet most values come from
	other := func() *hepvault.Packet { return &m.pkts[r.IntN(len(m.pkts))] }
	mine := func() bool { return r.IntN(3) > 0 }
	for range []int{0, 1, 1, 1, 2, 2, 3, 4}[r.IntN(8)] {
		switch r.IntN(16) {
		case 0:
			f.Kinds = list(r, func() hepvault.Kind {
				if mine() {
					return p.Kind
				}
				return hepvault.Kind(r.IntN(3))
			})
		case 1:
			f.Methods = list(r, func() string {
				if mine() && p.Method != "" {
					return p.Method
				}
				return append(modelRequests, "PRACK")[r.IntN(len(modelRequests)+1)]
			})
		case 2:
			f.Statuses = list(r, func() int {
				if mine() && p.StatusCode != 0 {
					return p.StatusCode
				}
				return []int{100, 180, 200, 404, 486, 503, 603}[r.IntN(7)]
			})
		case 3:
			f.StatusClasses = list(r, func() hepvault.StatusClass {
				if mine() && p.StatusCode != 0 {
					return hepvault.ClassOf(p.StatusCode)
				}
				return hepvault.StatusClass(1 + r.IntN(6))
			})
		case 4:
			f.SrcIPs = list(r, func() netip.Addr { return pickAddr(r, p.SrcIP, mine()) })
		case 5:
			f.DstIPs = list(r, func() netip.Addr { return pickAddr(r, p.DstIP, mine()) })
		case 6:
			f.IPs = list(r, func() netip.Addr { return pickAddr(r, []netip.Addr{p.SrcIP, p.DstIP}[r.IntN(2)], mine()) })
		case 7:
			f.CaptureIDs = list(r, func() uint32 {
				if mine() {
					return p.CaptureID
				}
				return uint32(r.IntN(len(modelAgents) + 2)) // 0 and 8: no such agent
			})
		case 8:
			switch k := r.IntN(4); {
			case k < 2 && p.CallID != "":
				f.CallID = p.CallID
			case k < 3:
				f.CallID = modelCalls[r.IntN(len(modelCalls))] // as sent: the store compares it as it keeps text
			default:
				f.CallID = other().CallID
			}
		case 9:
			switch k := r.IntN(4); {
			case k < 2 && p.CorrelationID != "":
				f.CorrelationID = p.CorrelationID
			case k < 3:
				f.CorrelationID = "corr\x00nul"
			default:
				f.CorrelationID = fmt.Sprintf("corr-%d", r.IntN(60))
			}
		case 10:
			f.FromUser = pickUser(r, p.FromUser, mine())
		case 11:
			f.ToUser = pickUser(r, p.ToUser, mine())
		case 12:
			f.RURIUser = pickUser(r, p.RURIUser, mine())
		case 13, 14:
			f.User = pickUser(r, []string{p.FromUser, p.ToUser, p.RURIUser, p.PAIUser}[r.IntN(4)], mine())
		case 15:
			if mine() && len(p.Raw) > 8 {
				at := r.IntN(len(p.Raw) - 4)
				f.Text = string(p.Raw[at : at+min(len(p.Raw)-at, 4+r.IntN(12))])
			} else {
				f.Text = modelTexts[r.IntN(len(modelTexts))]
			}
			if r.IntN(10) > 0 { // else its window is left as it is, maybe none or too wide
				f.From = p.CapturedAt.Add(-time.Duration(r.IntN(int(time.Minute))))
				f.To = f.From.Add(widths[2+r.IntN(len(widths)-2)])
			}
		}
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

// list returns one to three values of next.
func list[T any](r *rand.Rand, next func() T) []T {
	out := make([]T, 1+r.IntN(3))
	for i := range out {
		out[i] = next()
	}
	return out
}

func pickAddr(r *rand.Rand, a netip.Addr, mine bool) netip.Addr {
	if mine && a.IsValid() {
		return a
	}
	return append(modelAddrs, netip.MustParseAddr("192.0.2.99"))[r.IntN(len(modelAddrs)+1)]
}

// pickUser returns u written another way (a number with or without '+' and
// separators), or one of modelFilterUsers.
func pickUser(r *rand.Rand, u string, mine bool) string {
	if !mine || u == "" {
		return modelFilterUsers[r.IntN(len(modelFilterUsers))]
	}
	key := hepvault.UserKey(u)
	if strings.Trim(u, "+-.() 0123456789") != "" || len(key) < 4 {
		return u // a name: exactly as it is
	}
	return []string{key, "+" + key, "+" + key[:2] + " " + key[2:4] + " " + key[4:], key[:2] + "-" + key[2:], "(" + key[:2] + ")" + key[2:]}[r.IntN(5)]
}

func describeFilter(f hepvault.Filter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "filter{from %v to %v", f.From, f.To)
	if f.After != nil {
		fmt.Fprintf(&b, " after (%v, %d)", f.After.CapturedAt, f.After.ID)
	}
	for _, x := range []struct {
		name string
		v    any
		set  bool
	}{
		{"kinds", f.Kinds, f.Kinds != nil}, {"methods", f.Methods, f.Methods != nil}, {"statuses", f.Statuses, f.Statuses != nil},
		{"status_classes", f.StatusClasses, f.StatusClasses != nil}, {"src_ips", f.SrcIPs, f.SrcIPs != nil},
		{"dst_ips", f.DstIPs, f.DstIPs != nil}, {"ips", f.IPs, f.IPs != nil}, {"capture_ids", f.CaptureIDs, f.CaptureIDs != nil},
		{"call_id", fmt.Sprintf("%q", f.CallID), f.CallID != ""}, {"correlation_id", fmt.Sprintf("%q", f.CorrelationID), f.CorrelationID != ""},
		{"from_user", fmt.Sprintf("%q", f.FromUser), f.FromUser != ""}, {"to_user", fmt.Sprintf("%q", f.ToUser), f.ToUser != ""},
		{"ruri_user", fmt.Sprintf("%q", f.RURIUser), f.RURIUser != ""}, {"user", fmt.Sprintf("%q", f.User), f.User != ""},
		{"text", fmt.Sprintf("%q", f.Text), f.Text != ""},
	} {
		if x.set {
			fmt.Fprintf(&b, " %s %v", x.name, x.v)
		}
	}
	fmt.Fprintf(&b, " limit %d}", f.Limit)
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
