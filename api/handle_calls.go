package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/store"
	"github.com/labstack/echo/v4"
)

// callFilterParams are the calls listing's parameters that select its
// first request, read as the packet listing reads them.
var callFilterParams = []string{"from", "to", "cursor", "user", "from_user", "to_user", "ruri_user", "ip", "method", "capture_id"}

// callStates are the states a call can be listed by.
var callStates = []callflow.State{
	callflow.StateAnswered, callflow.StateCancelled, callflow.StateBusy, callflow.StateNoAnswer,
	callflow.StateFailed, callflow.StateInProgress, callflow.StateRegistered, callflow.StateCompleted,
}

type callsAnswer struct {
	Calls []callflow.Call `json:"calls"`
	Next  string          `json:"next,omitempty"`
}

// handleCalls answers GET /api/v1/calls: the calls that started in a
// window, in start order, a page at a time.
func (s *Server) handleCalls(c echo.Context) error {
	f, err := parseCallFilter(c.QueryParams())
	if err != nil {
		return err
	}
	page, err := s.store.Calls(c.Request().Context(), f)
	if err != nil {
		return err
	}
	setReturned(c, len(page.Calls))
	a := callsAnswer{Calls: page.Calls}
	if a.Calls == nil {
		a.Calls = []callflow.Call{}
	}
	if page.Next != nil {
		a.Next = encodeCursor(hepvault.Packet{CapturedAt: page.Next.CapturedAt, ID: page.Next.ID})
	}
	return c.JSON(http.StatusOK, a)
}

// parseCallFilter reads the calls listing's query parameters: those of
// the first request as parseFilter reads them, then limit (1 to
// store.MaxCallsLimit), state and status (the final status) of the call.
func parseCallFilter(q url.Values) (store.CallFilter, error) {
	var f store.CallFilter
	sub := url.Values{}
	for name, vs := range q {
		switch {
		case slices.Contains(callFilterParams, name):
			sub[name] = vs
		case name == "limit" || name == "state" || name == "status":
			if len(vs) > 1 {
				return f, invalid("%s is given %d times; give it once, with a list as comma-separated values (state=busy,failed)", name, len(vs))
			}
		default:
			return f, invalid("unknown parameter %q", name)
		}
	}
	pf, err := parseFilter(sub)
	if err != nil {
		return f, err
	}
	f.Filter = pf
	f.Limit = DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxCallsLimit {
			return f, invalid("limit must be a whole number from 1 to %d, not %q", store.MaxCallsLimit, v)
		}
		f.Limit = n
	}
	if f.States, err = parseList(q, "state", "a call state (answered, cancelled, busy, no_answer, failed, in_progress, registered, completed)",
		func(s string) (callflow.State, bool) {
			st := callflow.State(s)
			return st, slices.Contains(callStates, st)
		}); err != nil {
		return f, err
	}
	if f.Statuses, err = parseList(q, "status", "a final status code from 100 to 699", parseStatus); err != nil {
		return f, err
	}
	return f, nil
}
