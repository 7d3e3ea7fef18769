package store

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/internal/siprec"
	"github.com/jackc/pgx/v5"
)

// MaxRecordingsLimit caps how many recordings one Recordings returns.
const MaxRecordingsLimit = 1000

// How far from a recording's start the call it records is looked for when
// the metadata does not give its Call-ID: the call started at most
// linkBefore before the recording did (an SRC may start recording a call
// long after it was answered), or a moment after (clocks of different
// proxies).
const (
	linkBefore = time.Hour
	linkAfter  = 5 * time.Second
)

// maxSessionIDReads caps how many candidate calls a recording reads to
// compare their Session-ID headers with its sipSessionIDs.
const maxSessionIDReads = 32

// GapTolerance is how much earlier than its call a recording may end
// before the call counts as a gap: the SRC's BYE and the call's cross.
const GapTolerance = 2 * time.Second

// RecordingFilter selects recording sessions by their first request.
type RecordingFilter struct {
	From, To time.Time // the recording's first request lies in [From, To); required
	User     string    // a participant's AOR user, compared by hepvault.UserKey
	After    *hepvault.Position
	Limit    int // 1..MaxRecordingsLimit, else 100
}

// Recording is a recording session (RFC 7866) as its messages and metadata
// say, with the call it records.
type Recording struct {
	CallID string // the recording session's own dialog
	// SessionID is the metadata's communication session id (RFC 7865
	// session_id), of the first session when it names several.
	SessionID       string
	RecordedCallIDs []string
	// LinkedBy says how RecordedCallIDs were found: call_id (the metadata
	// names them), session_id (a sipSessionID is the call's Session-ID
	// header, RFC 7989), participants (the call's users are participants
	// and it was up when the recording started); "" when none was found.
	LinkedBy     string
	Participants []RecordingParticipant
	Streams      []RecordingStream
	// StartedAt: the recording dialog's answer (its first request when it
	// was not answered); EndedAt: its BYE; zero when unknown.
	StartedAt, EndedAt time.Time
	// State: recording (answered, no BYE yet), ended, or the dialog's
	// state when it was not answered (failed, cancelled, in_progress, ...).
	State string
	// MetadataErrors counts the recording's messages whose metadata could
	// not be read (the reason is in recording_messages.error).
	MetadataErrors int

	first    hepvault.Position
	messages int
}

// RecordingParticipant is a party of the recorded call.
type RecordingParticipant struct {
	AOR, Name string
}

// RecordingStream is a recorded stream and the label of its SDP media line.
type RecordingStream struct {
	StreamID, Label string
}

// States of a recording besides the dialog's own.
const (
	RecordingActive = "recording"
	RecordingEnded  = "ended"
)

// RecordingsPage is one page of recordings and where the next one starts.
type RecordingsPage struct {
	Recordings []Recording
	Next       *hepvault.Position // nil at the window's end
}

type recordingStart struct {
	callID string
	pos    hepvault.Position
}

// Recordings lists the recording sessions whose first request lies in f's
// window, in the order they started, each with its metadata applied in
// order and linked to the call it records.
func (db *DB) Recordings(ctx context.Context, f RecordingFilter) (RecordingsPage, error) {
	if err := db.errNotReady(); err != nil {
		return RecordingsPage{}, err
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxRecordingsLimit {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT ON (call_id) call_id, captured_at, packet_id
FROM recording_messages WHERE captured_at >= $1 AND captured_at < $2
ORDER BY call_id, captured_at, packet_id`, f.From, f.To)
	if err != nil {
		return RecordingsPage{}, interpretError("query recordings", err)
	}
	starts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (recordingStart, error) {
		var s recordingStart
		err := r.Scan(&s.callID, &s.pos.CapturedAt, &s.pos.ID)
		return s, err
	})
	if err != nil {
		return RecordingsPage{}, interpretError("query recordings", err)
	}
	slices.SortFunc(starts, func(a, b recordingStart) int { return comparePositions(a.pos, b.pos) })
	if f.After != nil {
		i, _ := slices.BinarySearchFunc(starts, *f.After, func(s recordingStart, p hepvault.Position) int {
			if comparePositions(s.pos, p) <= 0 {
				return -1
			}
			return 1
		})
		starts = starts[i:]
	}
	userKey := ""
	if f.User != "" {
		userKey = hepvault.UserKey(f.User)
	}
	var page RecordingsPage
	for len(starts) > 0 {
		chunk := starts[:min(len(starts), 2*(limit-len(page.Recordings))+4)]
		starts = starts[len(chunk):]
		recs, err := db.recordingsOf(ctx, chunk)
		if err != nil {
			return RecordingsPage{}, err
		}
		for _, r := range recs {
			if r == nil || userKey != "" && !hasParticipant(r, userKey) {
				continue
			}
			if len(page.Recordings) == limit {
				last := page.Recordings[limit-1].first
				page.Next = &last
				return page, nil
			}
			page.Recordings = append(page.Recordings, *r)
		}
	}
	return page, nil
}

func comparePositions(a, b hepvault.Position) int {
	if c := a.CapturedAt.Compare(b.CapturedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func hasParticipant(r *Recording, key string) bool {
	for _, p := range r.Participants {
		if u := siprec.AORUser(p.AOR); u != "" && hepvault.UserKey(u) == key {
			return true
		}
	}
	return false
}

// recordingsOf builds the recordings that start at starts; nil for one
// that started before (an earlier message of its dialog lies outside the
// window).
func (db *DB) recordingsOf(ctx context.Context, starts []recordingStart) ([]*Recording, error) {
	ids := make([]string, len(starts))
	for i, s := range starts {
		ids[i] = s.callID
	}
	rows, err := db.pool.Query(ctx, `SELECT call_id, captured_at, packet_id, method, cseq, metadata, error
FROM recording_messages WHERE call_id = ANY($1) ORDER BY call_id, captured_at, packet_id`, ids)
	if err != nil {
		return nil, interpretError("query recordings", err)
	}
	type msg struct {
		callID, method string
		pos            hepvault.Position
		cseq           int64
		metadata       []byte
		err            *string
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (msg, error) {
		var m msg
		err := r.Scan(&m.callID, &m.pos.CapturedAt, &m.pos.ID, &m.method, &m.cseq, &m.metadata, &m.err)
		return m, err
	})
	if err != nil {
		return nil, interpretError("query recordings", err)
	}
	byID := map[string][]msg{}
	for _, m := range msgs {
		byID[m.callID] = append(byID[m.callID], m)
	}
	out := make([]*Recording, len(starts))
	for i, s := range starts {
		ms := byID[s.callID]
		if len(ms) == 0 || comparePositions(ms[0].pos, s.pos) != 0 {
			continue
		}
		r := &Recording{CallID: s.callID, first: s.pos}
		var st siprec.State
		// A message the proxy received and forwarded is stored twice: a
		// document is applied once per transaction.
		type tx struct {
			method string
			cseq   int64
		}
		seen := map[tx]bool{}
		for _, m := range ms {
			k := tx{m.method, m.cseq}
			if seen[k] {
				continue
			}
			seen[k] = true
			r.messages++
			if m.err != nil {
				r.MetadataErrors++
				continue
			}
			if m.metadata == nil {
				continue
			}
			var md siprec.Metadata
			if err := json.Unmarshal(m.metadata, &md); err != nil {
				r.MetadataErrors++
				continue
			}
			st.Apply(&md)
		}
		for _, p := range st.Participants {
			r.Participants = append(r.Participants, RecordingParticipant{AOR: p.AOR, Name: p.Name})
		}
		for _, sm := range st.Streams {
			r.Streams = append(r.Streams, RecordingStream{StreamID: sm.ID, Label: sm.Label})
		}
		if len(st.Sessions) > 0 {
			r.SessionID = st.Sessions[0].ID
		}
		if err := db.recordingDialog(ctx, r); err != nil {
			return nil, err
		}
		if err := db.linkRecording(ctx, r, &st); err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// recordingDialog reads the recording's own dialog: when it was answered
// and ended.
func (db *DB) recordingDialog(ctx context.Context, r *Recording) error {
	pkts, err := db.Call(ctx, r.CallID)
	if err != nil {
		return err
	}
	c := callflow.Summarize(pkts)
	switch {
	case c.State == callflow.StateAnswered && !c.EndedAt.IsZero():
		r.State, r.StartedAt, r.EndedAt = RecordingEnded, c.AnsweredAt, c.EndedAt
	case c.State == callflow.StateAnswered:
		r.State, r.StartedAt = RecordingActive, c.AnsweredAt
	default:
		r.State, r.StartedAt = string(c.State), c.StartedAt
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = r.first.CapturedAt
	}
	return nil
}

// linkRecording finds the call r records: by the Call-IDs the metadata
// gives, else the call whose Session-ID header is one of its sipSessionIDs,
// else the call, up when the recording started, whose caller and callee
// are both participants (the latest to start, if several).
func (db *DB) linkRecording(ctx context.Context, r *Recording, st *siprec.State) error {
	if ids := st.CallIDs(); len(ids) > 0 {
		r.RecordedCallIDs, r.LinkedBy = ids, "call_id"
		return nil
	}
	users := map[string]bool{}
	var first string
	for _, p := range r.Participants {
		if u := siprec.AORUser(p.AOR); u != "" {
			users[hepvault.UserKey(u)] = true
			if first == "" {
				first = u
			}
		}
	}
	sids := st.SIPSessionIDs()
	if len(sids) == 0 && len(users) == 0 {
		return nil
	}
	at := r.first.CapturedAt
	f := CallFilter{Filter: hepvault.Filter{From: at.Add(-linkBefore), To: at.Add(linkAfter),
		Methods: []string{"INVITE"}, User: first, Limit: MaxCallsLimit},
		States: []callflow.State{callflow.StateAnswered}}
	page, err := db.Calls(ctx, f)
	if err != nil {
		return err
	}
	recs, err := db.recordingDialogs(ctx, page.Calls)
	if err != nil {
		return err
	}
	var cands []callflow.Call
	for _, c := range page.Calls {
		if !recs[c.CallID] && (c.EndedAt.IsZero() || !c.EndedAt.Before(at)) {
			cands = append(cands, c)
		}
	}
	both := func(c *callflow.Call) bool {
		return users[hepvault.UserKey(c.FromUser)] && (users[hepvault.UserKey(c.ToUser)] || users[hepvault.UserKey(c.RURIUser)])
	}
	if len(sids) > 0 {
		// A call's Session-ID is in its raw INVITE: read the calls whose
		// users are participants first, and at most maxSessionIDReads.
		slices.SortStableFunc(cands, func(a, b callflow.Call) int {
			if both(&a) == both(&b) {
				return 0
			}
			if both(&a) {
				return -1
			}
			return 1
		})
		for _, c := range cands[:min(len(cands), maxSessionIDReads)] {
			pkts, err := db.Call(ctx, c.CallID)
			if err != nil {
				return err
			}
			if first := firstRequest(pkts); first != nil && slices.Contains(sids, siprec.Read(first.Raw).SessionID) {
				r.RecordedCallIDs, r.LinkedBy = []string{c.CallID}, "session_id"
				return nil
			}
		}
	}
	var best *callflow.Call
	for i, c := range cands {
		if both(&c) && (best == nil || c.StartedAt.After(best.StartedAt)) {
			best = &cands[i]
		}
	}
	if best != nil {
		r.RecordedCallIDs, r.LinkedBy = []string{best.CallID}, "participants"
	}
	return nil
}

// recordingDialogs says which of calls are recording sessions themselves.
func (db *DB) recordingDialogs(ctx context.Context, calls []callflow.Call) (map[string]bool, error) {
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.CallID
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT call_id FROM recording_messages WHERE call_id = ANY($1)`, ids)
	if err != nil {
		return nil, interpretError("query recordings", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, interpretError("query recordings", err)
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// Gap is an answered call that was not recorded, or not to its end.
type Gap struct {
	Call callflow.Call
	// Reason: unrecorded (no recording session names or matches it),
	// recording_failed (its recording session was not answered), or
	// ended_early (its last recording ended more than GapTolerance before
	// it).
	Reason string
	// The recordings found for it, and when the last one ended.
	RecordingCallIDs []string
	RecordingEndedAt time.Time
}

// Gap reasons.
const (
	GapUnrecorded      = "unrecorded"
	GapRecordingFailed = "recording_failed"
	GapEndedEarly      = "ended_early"
)

// MaxGapCalls caps how many answered calls one RecordingGaps examines.
const MaxGapCalls = 100000

// RecordingGaps lists the answered INVITE calls that started in [from, to)
// with no recording, or whose recording ended more than GapTolerance before
// the call did, in the order they started. Recording sessions are not
// calls of their own here. Recordings are looked for up to linkBefore after
// to, as one may start late in a call.
func (db *DB) RecordingGaps(ctx context.Context, from, to time.Time) ([]Gap, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	byCall := map[string][]*Recording{}
	rf := RecordingFilter{From: from, To: to.Add(linkBefore), Limit: MaxRecordingsLimit}
	for {
		page, err := db.Recordings(ctx, rf)
		if err != nil {
			return nil, err
		}
		for i := range page.Recordings {
			r := &page.Recordings[i]
			for _, id := range r.RecordedCallIDs {
				byCall[id] = append(byCall[id], r)
			}
		}
		if page.Next == nil {
			break
		}
		rf.After = page.Next
	}
	var gaps []Gap
	cf := CallFilter{Filter: hepvault.Filter{From: from, To: to, Methods: []string{"INVITE"}, Limit: MaxCallsLimit},
		States: []callflow.State{callflow.StateAnswered}}
	for seen := 0; seen < MaxGapCalls; {
		page, err := db.Calls(ctx, cf)
		if err != nil {
			return nil, err
		}
		seen += len(page.Calls)
		recDialogs, err := db.recordingDialogs(ctx, page.Calls)
		if err != nil {
			return nil, err
		}
		for _, c := range page.Calls {
			if recDialogs[c.CallID] {
				continue
			}
			if g, ok := gapOf(c, byCall[c.CallID]); ok {
				gaps = append(gaps, g)
			}
		}
		if page.Next == nil {
			break
		}
		cf.After = page.Next
	}
	return gaps, nil
}

// gapOf says whether call c, recorded by recs, is a gap.
func gapOf(c callflow.Call, recs []*Recording) (Gap, bool) {
	g := Gap{Call: c, Reason: GapUnrecorded}
	answered := false
	for _, r := range recs {
		g.RecordingCallIDs = append(g.RecordingCallIDs, r.CallID)
		switch r.State {
		case RecordingActive:
			return g, false
		case RecordingEnded:
			answered = true
			if r.EndedAt.After(g.RecordingEndedAt) {
				g.RecordingEndedAt = r.EndedAt
			}
		}
	}
	switch {
	case len(recs) == 0:
		return g, true
	case !answered:
		g.Reason = GapRecordingFailed
		return g, true
	case !c.EndedAt.IsZero() && c.EndedAt.Sub(g.RecordingEndedAt) > GapTolerance:
		g.Reason = GapEndedEarly
		return g, true
	}
	return g, false
}
