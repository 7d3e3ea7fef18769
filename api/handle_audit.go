package api

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/labstack/echo/v4"
)

// MaxCoverageWindow bounds a coverage window: each agent's blocks of the
// window are read.
const MaxCoverageWindow = 31 * 24 * time.Hour

// DefaultGap is how long an agent may send nothing before coverage calls
// it silent.
const DefaultGap = 60 * time.Second

// MaxAccessLogLimit caps limit of the access log.
const MaxAccessLogLimit = 10000

func (s *Server) auditStore() (Audit, error) {
	if s.audit == nil {
		return nil, echo.NewHTTPError(http.StatusNotFound, "this hepvault keeps no coverage, access log or holds")
	}
	return s.audit, nil
}

// checkParams refuses a parameter not in allowed, or one given twice.
func checkParams(q url.Values, allowed ...string) error {
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(allowed, name) {
			return invalid("unknown parameter %q", name)
		}
		if n := len(q[name]); n > 1 {
			return invalid("%s is given %d times; give it once", name, n)
		}
	}
	return nil
}

// parseAuditWindow reads from and to, both required, to after from, at most max apart.
func parseAuditWindow(q url.Values, max time.Duration) (from, to time.Time, err error) {
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(t.name)
		if v == "" {
			return from, to, invalid("%s is missing: give a window, from and to", t.name)
		}
		if *t.dst, err = hepvault.ParseTime(v); err != nil {
			return from, to, invalid("%s: %v", t.name, err)
		}
	}
	if !to.After(from) {
		return from, to, invalid("to (%s) must be after from (%s)", to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	if max > 0 && to.Sub(from) > max {
		return from, to, invalid("from and to are %s apart; at most %s is allowed", to.Sub(from), max)
	}
	return from, to, nil
}

// handleCoverage answers GET /api/v1/coverage?from&to[&gap]: whether the
// window's packets are all that the agents sent (store.Coverage).
func (s *Server) handleCoverage(c echo.Context) error {
	a, err := s.auditStore()
	if err != nil {
		return err
	}
	q := c.QueryParams()
	if err := checkParams(q, "from", "to", "gap"); err != nil {
		return err
	}
	cq := store.CoverageQuery{Gap: DefaultGap}
	if cq.From, cq.To, err = parseAuditWindow(q, MaxCoverageWindow); err != nil {
		return err
	}
	if v := q.Get("gap"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return invalid("gap must be a duration from 1s to 24h (60s, 5m), not %q", v)
		}
		cq.Gap = d
	}
	cv, err := a.Coverage(c.Request().Context(), cq)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cv)
}

// handleAccessLog answers GET /api/v1/access-log?from&to[&token][&limit]:
// the requests that returned packets, calls, exports or holds, oldest first.
func (s *Server) handleAccessLog(c echo.Context) error {
	a, err := s.auditStore()
	if err != nil {
		return err
	}
	q := c.QueryParams()
	if err := checkParams(q, "from", "to", "token", "limit"); err != nil {
		return err
	}
	aq := store.AccessQuery{Token: q.Get("token"), Limit: 1000}
	if aq.From, aq.To, err = parseAuditWindow(q, 0); err != nil {
		return err
	}
	if err := checkText("token", aq.Token); err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxAccessLogLimit {
			return invalid("limit must be a whole number from 1 to %d, not %q", MaxAccessLogLimit, v)
		}
		aq.Limit = n
	}
	es, err := a.AccessLog(c.Request().Context(), aq)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": es})
}

// holdRequest is the body of POST /api/v1/holds.
type holdRequest struct {
	CallID string `json:"call_id"`
	Filter string `json:"filter"`
	Reason string `json:"reason"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// maxReason bounds a hold's reason.
const maxReason = 1000

// handleAddHold answers POST /api/v1/holds: a hold on a Call-ID or on a
// packet filter, with a reason. A filter's window is from and to, in the
// body or in the filter; a Call-ID's may be left out: then it is the
// call's packets' (the call must be stored).
func (s *Server) handleAddHold(c echo.Context) error {
	a, err := s.auditStore()
	if err != nil {
		return err
	}
	if len(c.QueryParams()) > 0 {
		return invalid("POST /api/v1/holds takes no parameters: send {\"call_id\" or \"filter\", \"reason\", \"from\", \"to\"} as JSON")
	}
	var req holdRequest
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
		}
		if errors.Is(err, io.EOF) {
			return invalid("the body is empty: send {\"call_id\" or \"filter\", \"reason\", \"from\", \"to\"} as JSON")
		}
		return invalid("the body is not a hold: %v", err)
	}
	if (req.CallID == "") == (req.Filter == "") {
		return invalid("give call_id or filter, one of them")
	}
	if req.Reason == "" || len(req.Reason) > maxReason {
		return invalid("reason is required, at most %d bytes: say why the packets are held", maxReason)
	}
	for name, v := range map[string]string{"call_id": req.CallID, "reason": req.Reason, "filter": req.Filter} {
		if err := checkText(name, v); err != nil {
			return err
		}
	}
	h := store.Hold{CallID: req.CallID, Reason: req.Reason}
	if tok, ok := c.Get(ctxToken).(Token); ok {
		h.CreatedBy = tok.Name
	}
	win := url.Values{}
	if req.Filter != "" {
		fq, err := url.ParseQuery(req.Filter)
		if err != nil {
			return invalid("filter is not a query string (method=INVITE&user=alice): %v", err)
		}
		for _, name := range []string{"cursor", "limit", "format"} {
			if fq.Has(name) {
				return invalid("filter: %s has no place in a hold", name)
			}
		}
		if _, err := parseFilter(fq); err != nil {
			return err
		}
		win.Set("from", fq.Get("from"))
		win.Set("to", fq.Get("to"))
		h.Filter = fq.Encode()
	}
	if req.From != "" {
		win.Set("from", req.From)
	}
	if req.To != "" {
		win.Set("to", req.To)
	}
	if req.CallID != "" && win.Get("from") == "" && win.Get("to") == "" {
		pkts, _, err := s.store.CallLegs(c.Request().Context(), req.CallID, false)
		if err != nil {
			return err
		}
		if len(pkts) == 0 {
			return c.JSON(http.StatusNotFound, map[string]string{"error": "no packets with Call-ID " + req.CallID + ": give from and to to hold a call not stored yet"})
		}
		h.From, h.To = pkts[0].CapturedAt, pkts[len(pkts)-1].CapturedAt.Add(time.Microsecond)
		for _, p := range pkts {
			h.From = minTime(h.From, p.CapturedAt)
			h.To = maxTime(h.To, p.CapturedAt.Add(time.Microsecond))
		}
	} else if h.From, h.To, err = parseAuditWindow(win, 10*366*24*time.Hour); err != nil {
		return err
	}
	h, err = a.AddHold(c.Request().Context(), h)
	if err != nil {
		return err
	}
	c.Set(paramsKey, holdParams(h))
	setReturned(c, 1)
	return c.JSON(http.StatusCreated, h)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// holdParams is what the access log keeps of a hold.
func holdParams(h store.Hold) string {
	v := url.Values{"hold": {strconv.FormatInt(h.ID, 10)}, "reason": {h.Reason}}
	if h.CallID != "" {
		v.Set("call_id", h.CallID)
	}
	if h.Filter != "" {
		v.Set("filter", h.Filter)
	}
	return v.Encode()
}

// handleHolds answers GET /api/v1/holds[?all=true]: the holds in force,
// or every hold ever made.
func (s *Server) handleHolds(c echo.Context) error {
	a, err := s.auditStore()
	if err != nil {
		return err
	}
	q := c.QueryParams()
	if err := checkParams(q, "all"); err != nil {
		return err
	}
	all := false
	if v := q.Get("all"); v != "" {
		if all, err = strconv.ParseBool(v); err != nil {
			return invalid("all must be true or false, not %q", v)
		}
	}
	hs, err := a.Holds(c.Request().Context(), all)
	if err != nil {
		return err
	}
	setReturned(c, len(hs))
	return c.JSON(http.StatusOK, map[string]any{"holds": hs})
}

// handleEndHold answers DELETE /api/v1/holds/{id}: the hold ends (its row
// stays, with who ended it and when), and retention may drop its days.
func (s *Server) handleEndHold(c echo.Context) error {
	a, err := s.auditStore()
	if err != nil {
		return err
	}
	if len(c.QueryParams()) > 0 {
		return invalid("DELETE /api/v1/holds/{id} takes no parameters")
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return invalid("hold id must be a positive whole number, not %q", c.Param("id"))
	}
	by := ""
	if tok, ok := c.Get(ctxToken).(Token); ok {
		by = tok.Name
	}
	h, err := a.EndHold(c.Request().Context(), id, by)
	if err != nil {
		return err
	}
	c.Set(paramsKey, holdParams(h))
	setReturned(c, 1)
	return c.JSON(http.StatusOK, h)
}
