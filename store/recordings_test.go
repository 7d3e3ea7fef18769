package store_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
)

const siprecPcap = "kamailio-siprec.pcap"

// siprecPackets reads the SIPREC capture as `hepvault import` does.
func siprecPackets(t *testing.T) []hepvault.Packet {
	t.Helper()
	f, err := os.Open(filepath.Join(fixture.Dir(t), siprecPcap))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkts []hepvault.Packet
	if _, err := capture.Read(f, capture.Config{}, func(p hepvault.Packet) error {
		pkts = append(pkts, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return pkts
}

// siprecTruth is what tshark read of the capture: each recording dialog's
// participants (aor attributes in document order, once each) and the
// Call-IDs its metadata names; each call's messages.
type siprecTruth struct {
	aors     map[string][]string // recording Call-ID: participants
	named    map[string][]string // recording Call-ID: Call-IDs in its metadata
	messages []fixture.Message
}

func loadSIPRECTruth(t *testing.T) siprecTruth {
	t.Helper()
	tr := siprecTruth{aors: map[string][]string{}, named: map[string][]string{},
		messages: fixture.LoadTSV(t, siprecPcap)}
	f, err := os.Open(filepath.Join(fixture.Dir(t), "kamailio-siprec.metadata.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		id := c[1]
		for _, a := range strings.Split(c[3], "|") {
			if v, ok := strings.CutPrefix(a, `aor="`); ok && !slices.Contains(tr.aors[id], strings.TrimSuffix(v, `"`)) {
				tr.aors[id] = append(tr.aors[id], strings.TrimSuffix(v, `"`))
			}
		}
		for _, text := range strings.Split(c[4], "|") {
			if strings.HasPrefix(text, "siprec-") && !slices.Contains(tr.named[id], text) {
				tr.named[id] = append(tr.named[id], text)
			}
		}
	}
	return tr
}

// firstOf is when the first message of callID that match passed the wire.
func (tr siprecTruth) firstOf(callID string, match func(fixture.Message) bool) time.Time {
	for _, m := range tr.messages {
		if m.CallID == callID && match(m) {
			return m.Time
		}
	}
	return time.Time{}
}

func isBye(m fixture.Message) bool { return m.Method == "BYE" }

// The recorded calls of the scenario (testdata/FIXTURES.md), by callee: the
// recording whose participants include the callee records that call.
var siprecCallees = map[string]struct{ callPrefix, linkedBy string }{
	"bob":   {"siprec-a-", "call_id"},
	"carol": {"siprec-b-", "session_id"},
	"dave":  {"siprec-d-", "participants"},
}

// TestRecordings_Fixture stores the SIPREC capture and asks for its
// recordings and gaps: every recording session found, linked to the right
// call, with the participants tshark read in its metadata (the supervisor
// of the re-INVITE's partial update too); the unrecorded call and the one
// whose recording stopped early are gaps.
func TestRecordings_Fixture(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	pkts := siprecPackets(t)
	tr := loadSIPRECTruth(t)
	w := store.NewWriter(db, store.DefaultWriterConfig())
	// Half, then all twice: the second write reads the requests of the
	// blocks it adds from the blocks (as for a batch replayed from the
	// spool), the third adds nothing.
	for _, batch := range [][]hepvault.Packet{pkts[:len(pkts)/2], pkts, pkts} {
		if err := w.WriteBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var rows int
	if err := queryRow(t, dsn, `SELECT count(*) FROM recording_messages`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 12 {
		t.Fatalf("unexpected recording_messages rows; got %d; want 12 (each recording's INVITE and re-INVITE in and out of the proxy)", rows)
	}
	from, to := tr.messages[0].Time.Add(-time.Second), tr.messages[len(tr.messages)-1].Time.Add(time.Second)
	page, err := db.Recordings(ctx, store.RecordingFilter{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	checkRecordings(t, tr, page.Recordings)

	// Paging: one at a time gives the same, in order.
	var paged []store.Recording
	f := store.RecordingFilter{From: from, To: to, Limit: 1}
	for {
		p, err := db.Recordings(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, p.Recordings...)
		if p.Next == nil {
			break
		}
		f.After = p.Next
	}
	if len(paged) != len(page.Recordings) {
		t.Fatalf("unexpected paged recordings; got %d; want %d", len(paged), len(page.Recordings))
	}
	for i := range paged {
		if paged[i].CallID != page.Recordings[i].CallID {
			t.Fatalf("unexpected recording %d paged; got %s; want %s", i, paged[i].CallID, page.Recordings[i].CallID)
		}
	}

	// By participant: dave is in one recording only; the supervisor in all.
	for user, want := range map[string]int{"dave": 1, "supervisor": 3, "erin": 0} {
		p, err := db.Recordings(ctx, store.RecordingFilter{From: from, To: to, User: user})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Recordings) != want {
			t.Fatalf("unexpected recordings with participant %s; got %d; want %d", user, len(p.Recordings), want)
		}
	}

	checkGaps(t, db, tr, page.Recordings, from, to)
}

func checkRecordings(t *testing.T, tr siprecTruth, recs []store.Recording) {
	t.Helper()
	if len(recs) != len(tr.aors) {
		t.Fatalf("unexpected recordings; got %d; want %d (tshark)", len(recs), len(tr.aors))
	}
	for _, r := range recs {
		want, ok := tr.aors[r.CallID]
		if !ok {
			t.Fatalf("recording %s: not a recording dialog of the capture", r.CallID)
		}
		var aors []string
		for _, p := range r.Participants {
			aors = append(aors, p.AOR)
			if p.Name == "" {
				t.Fatalf("recording %s: participant %s without its name", r.CallID, p.AOR)
			}
		}
		if !slices.Equal(aors, want) {
			t.Fatalf("recording %s: unexpected participants; got %q; want %q", r.CallID, aors, want)
		}
		var labels []string
		for _, s := range r.Streams {
			labels = append(labels, s.Label)
		}
		if !slices.Equal(labels, []string{"1", "2", "3"}) {
			t.Fatalf("recording %s: unexpected stream labels; got %q; want 1, 2, 3", r.CallID, labels)
		}
		callee := strings.TrimSuffix(strings.TrimPrefix(want[1], "sip:"), "@127.0.0.1")
		exp := siprecCallees[callee]
		if len(r.RecordedCallIDs) != 1 || !strings.HasPrefix(r.RecordedCallIDs[0], exp.callPrefix) || r.LinkedBy != exp.linkedBy {
			t.Fatalf("recording %s of %s: unexpected link; got %q by %q; want %s* by %s", r.CallID, callee, r.RecordedCallIDs, r.LinkedBy, exp.callPrefix, exp.linkedBy)
		}
		if named := tr.named[r.CallID]; len(named) > 0 && !slices.Equal(named, r.RecordedCallIDs) {
			t.Fatalf("recording %s: unexpected recorded call; got %q; want %q (the metadata)", r.CallID, r.RecordedCallIDs, named)
		}
		if r.State != store.RecordingEnded || r.MetadataErrors != 0 {
			t.Fatalf("recording %s: unexpected state %q, %d metadata errors; want ended, 0", r.CallID, r.State, r.MetadataErrors)
		}
		// Its BYE, as the wire says (the HEP-less import keeps wire times).
		if bye := tr.firstOf(r.CallID, isBye); !r.EndedAt.Equal(bye.Truncate(time.Microsecond)) {
			t.Fatalf("recording %s: unexpected end; got %v; want its BYE at %v", r.CallID, r.EndedAt, bye)
		}
	}
}

func checkGaps(t *testing.T, db *store.DB, tr siprecTruth, recs []store.Recording, from, to time.Time) {
	t.Helper()
	gaps, err := db.RecordingGaps(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	// The wire's answered calls that are not recordings, and how each is a gap.
	recorded := map[string]time.Time{}
	for _, r := range recs {
		recorded[r.RecordedCallIDs[0]] = tr.firstOf(r.CallID, isBye)
	}
	want := map[string]string{}
	for _, m := range tr.messages {
		if m.Status != 200 || m.CSeqMethod != "INVITE" || tr.aors[m.CallID] != nil || want[m.CallID] != "" {
			continue
		}
		want[m.CallID] = "ok"
		end, ok := recorded[m.CallID]
		switch {
		case !ok:
			want[m.CallID] = store.GapUnrecorded
		case tr.firstOf(m.CallID, isBye).Sub(end) > store.GapTolerance:
			want[m.CallID] = store.GapEndedEarly
		}
	}
	got := map[string]string{}
	for _, g := range gaps {
		got[g.Call.CallID] = g.Reason
	}
	n := 0
	for id, reason := range want {
		if reason == "ok" {
			if got[id] != "" {
				t.Fatalf("call %s: unexpected gap %q; its recording lasted to its end", id, got[id])
			}
			continue
		}
		n++
		if got[id] != reason {
			t.Fatalf("call %s: unexpected gap; got %q; want %q", id, got[id], reason)
		}
	}
	if len(gaps) != n || n != 2 {
		t.Fatalf("unexpected gaps; got %v; want %v (2: the unrecorded call, the one recorded only in part)", got, want)
	}
}

// TestRecordings_BadMetadata stores the capture with one recording's
// metadata broken (an element left open in its INVITE and the forwarded
// copy): every packet is stored, the reason is counted, and the
// recording still reads from its re-INVITE's update.
func TestRecordings_BadMetadata(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	pkts := siprecPackets(t)
	tr := loadSIPRECTruth(t)
	var broken string
	for id := range tr.aors {
		broken = id
		break
	}
	n := 0
	for i := range pkts {
		p := &pkts[i]
		if p.CallID == broken && p.Method == "INVITE" && p.CSeq == 1 {
			p.Raw = []byte(strings.Replace(string(p.Raw), "</participant>", "", 1))
			n++
		}
	}
	if n != 2 {
		t.Fatalf("unexpected fixture: %d first INVITEs of %s; want 2", n, broken)
	}
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
		t.Fatal(err)
	}
	from, to := tr.messages[0].Time.Add(-time.Second), tr.messages[len(tr.messages)-1].Time.Add(time.Second)
	stored, _, err := db.Packets(ctx, hepvault.Filter{From: from, To: to, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(pkts) {
		t.Fatalf("unexpected stored packets; got %d; want %d", len(stored), len(pkts))
	}
	page, err := db.Recordings(ctx, store.RecordingFilter{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range page.Recordings {
		if r.CallID != broken {
			continue
		}
		found = true
		if r.MetadataErrors != 1 || len(r.Participants) != 1 || r.Participants[0].AOR != "sip:supervisor@127.0.0.1" {
			t.Fatalf("unexpected recording with broken metadata: %d errors, participants %+v; want 1 and the supervisor of the update", r.MetadataErrors, r.Participants)
		}
	}
	if !found {
		t.Fatalf("recording %s with broken metadata not listed", broken)
	}
	var reason string
	var count int64
	if err := queryRow(t, dsn, `SELECT reason, count FROM recording_metadata_errors`).Scan(&reason, &count); err != nil {
		t.Fatal(err)
	}
	if reason != "siprec: bad metadata XML" || count != 2 {
		t.Fatalf("unexpected metadata errors; got %q %d; want the XML reason, 2 (the INVITE in and out of the proxy)", reason, count)
	}
}

// TestRecordings_HostileInput writes a batch of recording INVITEs of the
// capture made hostile (bytes PostgreSQL text cannot hold in the Call-ID,
// a NUL in the metadata, a body cut inside a part, invalid UTF-8 in a
// participant's name): the batch is stored whole, each request once.
func TestRecordings_HostileInput(t *testing.T) {
	db, dsn := openDSN(t)
	ctx := context.Background()
	var invite hepvault.Packet
	for _, p := range siprecPackets(t) {
		if p.Method == "INVITE" && strings.Contains(string(p.Raw), "rs-metadata+xml") {
			invite = p
			break
		}
	}
	edits := []func(p *hepvault.Packet){
		func(p *hepvault.Packet) { p.CallID = "bad\xff\x00id" },
		func(p *hepvault.Packet) { p.Raw = []byte(strings.Replace(string(p.Raw), "<name", "\x00<name", 1)) },
		func(p *hepvault.Packet) { p.Raw = p.Raw[:len(p.Raw)*3/4] },
		func(p *hepvault.Packet) {
			p.Raw = []byte(strings.Replace(string(p.Raw), "SIPp caller", "SIPp \xff\xfe caller", 1))
		},
		func(p *hepvault.Packet) {
			p.Raw = []byte(strings.Replace(string(p.Raw), "<name", "<name>&#0;</name><name", 1))
		},
	}
	var pkts []hepvault.Packet
	for i, edit := range edits {
		p := invite
		p.ID = invite.ID + int64(i+1)*1000
		p.Raw = append([]byte(nil), invite.Raw...)
		edit(&p)
		pkts = append(pkts, p)
	}
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(ctx, pkts); err != nil {
		t.Fatal(err)
	}
	var stored, rows, errs int
	if err := queryRow(t, dsn, `SELECT (SELECT count(*) FROM packets), (SELECT count(*) FROM recording_messages),
		(SELECT count(*) FROM recording_messages WHERE error IS NOT NULL)`).Scan(&stored, &rows, &errs); err != nil {
		t.Fatal(err)
	}
	if stored != len(pkts) || rows != len(pkts) || errs != 4 {
		t.Fatalf("unexpected store; got %d packets, %d recording rows, %d with an error; want %d, %d, 4 (NUL, cut, invalid UTF-8, &#0;: not XML)",
			stored, rows, errs, len(pkts), len(pkts))
	}
}
