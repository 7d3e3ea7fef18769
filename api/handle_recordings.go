package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/store"
	"github.com/labstack/echo/v4"
)

// MaxRecordingsWindow is the widest window GET /api/v1/recordings/gaps
// may cover: it reads every answered call of the window.
const MaxRecordingsWindow = 31 * 24 * time.Hour

type recordingJSON struct {
	CallID          string            `json:"call_id"`
	SessionID       *string           `json:"session_id"`
	RecordedCallIDs []string          `json:"recorded_call_ids"`
	LinkedBy        *string           `json:"linked_by"`
	Participants    []participantJSON `json:"participants"`
	Streams         []streamJSON      `json:"streams"`
	StartedAt       *string           `json:"started_at"`
	EndedAt         *string           `json:"ended_at"`
	State           string            `json:"state"`
	MetadataErrors  int               `json:"metadata_errors"`
}

type participantJSON struct {
	AOR  string `json:"aor"`
	Name string `json:"name"`
}

type streamJSON struct {
	StreamID string `json:"stream_id"`
	Label    string `json:"label"`
}

type recordingsAnswer struct {
	Recordings []recordingJSON `json:"recordings"`
	Next       string          `json:"next,omitempty"`
}

type gapJSON struct {
	CallID           string   `json:"call_id"`
	Reason           string   `json:"reason"`
	StartedAt        *string  `json:"started_at"`
	AnsweredAt       *string  `json:"answered_at"`
	EndedAt          *string  `json:"ended_at"`
	FromUser         *string  `json:"from_user"`
	ToUser           *string  `json:"to_user"`
	RecordingCallIDs []string `json:"recording_call_ids"`
	RecordingEndedAt *string  `json:"recording_ended_at"`
}

type gapsAnswer struct {
	Gaps []gapJSON `json:"gaps"`
}

func optText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(callflow.TimeFormat)
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toRecordingJSON(r store.Recording) recordingJSON {
	j := recordingJSON{CallID: r.CallID, SessionID: optText(r.SessionID), RecordedCallIDs: nonNil(r.RecordedCallIDs),
		LinkedBy: optText(r.LinkedBy), Participants: []participantJSON{}, Streams: []streamJSON{},
		StartedAt: optTime(r.StartedAt), EndedAt: optTime(r.EndedAt), State: r.State, MetadataErrors: r.MetadataErrors}
	for _, p := range r.Participants {
		j.Participants = append(j.Participants, participantJSON{AOR: p.AOR, Name: p.Name})
	}
	for _, s := range r.Streams {
		j.Streams = append(j.Streams, streamJSON{StreamID: s.StreamID, Label: s.Label})
	}
	return j
}

// handleRecordings answers GET /api/v1/recordings: the SIPREC recording
// sessions that started in a window, in start order, a page at a time.
func (s *Server) handleRecordings(c echo.Context) error {
	q := c.QueryParams()
	if err := onlyParams(q, "from", "to", "user", "limit", "cursor"); err != nil {
		return err
	}
	from, to, err := parseWindow(q)
	if err != nil {
		return err
	}
	f := store.RecordingFilter{From: from, To: to, User: q.Get("user"), Limit: DefaultLimit}
	if err := checkText("user", f.User); err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxRecordingsLimit {
			return invalid("limit must be a whole number from 1 to %d, not %q", store.MaxRecordingsLimit, v)
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		pos, err := decodeCursor(v)
		if err != nil {
			return err
		}
		f.After = &pos
	}
	page, err := s.store.Recordings(c.Request().Context(), f)
	if err != nil {
		return err
	}
	setReturned(c, len(page.Recordings))
	a := recordingsAnswer{Recordings: []recordingJSON{}}
	for _, r := range page.Recordings {
		a.Recordings = append(a.Recordings, toRecordingJSON(r))
	}
	if page.Next != nil {
		a.Next = encodeCursor(hepvault.Packet{CapturedAt: page.Next.CapturedAt, ID: page.Next.ID})
	}
	return c.JSON(http.StatusOK, a)
}

// handleRecordingGaps answers GET /api/v1/recordings/gaps: the answered
// calls of a window with no recording, or one that ended more than
// store.GapTolerance before the call.
func (s *Server) handleRecordingGaps(c echo.Context) error {
	q := c.QueryParams()
	if err := onlyParams(q, "from", "to"); err != nil {
		return err
	}
	from, to, err := parseWindow(q)
	if err != nil {
		return err
	}
	if to.Sub(from) > MaxRecordingsWindow {
		return invalid("gaps read every answered call of the window, so from and to may be at most %s apart, not %s", fmtHours(MaxRecordingsWindow), to.Sub(from))
	}
	gaps, err := s.store.RecordingGaps(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	setReturned(c, len(gaps))
	a := gapsAnswer{Gaps: []gapJSON{}}
	for _, g := range gaps {
		a.Gaps = append(a.Gaps, gapJSON{CallID: g.Call.CallID, Reason: g.Reason, StartedAt: optTime(g.Call.StartedAt),
			AnsweredAt: optTime(g.Call.AnsweredAt), EndedAt: optTime(g.Call.EndedAt),
			FromUser: optText(g.Call.FromUser), ToUser: optText(g.Call.ToUser),
			RecordingCallIDs: nonNil(g.RecordingCallIDs), RecordingEndedAt: optTime(g.RecordingEndedAt)})
	}
	return c.JSON(http.StatusOK, a)
}

// onlyParams refuses a parameter not in names, or one given twice.
func onlyParams(q url.Values, names ...string) error {
	for name, vs := range q {
		known := false
		for _, n := range names {
			known = known || n == name
		}
		if !known {
			return invalid("unknown parameter %q", name)
		}
		if len(vs) > 1 {
			return invalid("%s is given %d times; give it once", name, len(vs))
		}
	}
	return nil
}

// parseWindow reads from and to, both required, to after from.
func parseWindow(q url.Values) (time.Time, time.Time, error) {
	var from, to time.Time
	var err error
	switch {
	case q.Get("from") == "":
		return from, to, invalid("from is required: the start of the window")
	case q.Get("to") == "":
		return from, to, invalid("to is required: the end of the window")
	}
	if from, err = hepvault.ParseTime(q.Get("from")); err != nil {
		return from, to, fmt.Errorf("from: %w", err)
	}
	if to, err = hepvault.ParseTime(q.Get("to")); err != nil {
		return from, to, fmt.Errorf("to: %w", err)
	}
	if !to.After(from) {
		return from, to, invalid("to (%s) must be after from (%s)", to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	return from, to, nil
}
