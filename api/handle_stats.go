package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/labstack/echo/v4"
)

// MaxStatsPoints caps the points of one series: (to-from)/step.
const MaxStatsPoints = 10000

var statsParams = map[string]bool{"from": true, "to": true, "step": true, "by": true}

var statsSteps = map[string]time.Duration{"1m": time.Minute, "5m": 5 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour}

// handleStats answers GET /api/v1/stats: packets counted per step of a
// window by one dimension, a series per key.
func (s *Server) handleStats(c echo.Context) error {
	q, err := parseStatsQuery(c.QueryParams())
	if err != nil {
		return err
	}
	series, err := s.store.Stats(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, appendStats(make([]byte, 0, statsSize(q, series)), q, series))
}

// parseStatsQuery reads the statistics' query parameters. from and to are
// widened to whole steps in UTC: from down, to up.
func parseStatsQuery(v url.Values) (hepvault.StatsQuery, error) {
	var q hepvault.StatsQuery
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if !statsParams[name] {
			return q, invalid("unknown parameter %q (stats takes from, to, step and by)", name)
		}
		if n := len(v[name]); n > 1 {
			return q, invalid("%s is given %d times; give it once", name, n)
		}
	}
	step, ok := statsSteps[v.Get("step")]
	if !ok {
		return q, invalid("step must be 1m, 5m, 1h or 1d, not %q", v.Get("step"))
	}
	q.Step = step
	by := hepvault.StatsDim(v.Get("by"))
	if !slices.Contains(hepvault.StatsDims(), by) {
		return q, invalid("by must be method, status, status_class, kind, capture_id or pair, not %q", v.Get("by"))
	}
	q.By = by
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := v.Get(t.name)
		if s == "" {
			return q, invalid("%s is missing: stats need a window, from and to", t.name)
		}
		tm, err := hepvault.ParseTime(s)
		if err != nil {
			return q, invalid("%s: %v", t.name, err)
		}
		*t.dst = tm
	}
	if !q.To.After(q.From) {
		return q, invalid("to (%s) must be after from (%s)", q.To.Format(time.RFC3339Nano), q.From.Format(time.RFC3339Nano))
	}
	q.From = floorStep(q.From, step)
	q.To = floorStep(q.To.Add(step-time.Nanosecond), step)
	if n := q.To.Sub(q.From) / step; n > MaxStatsPoints {
		return q, invalid("from to to holds %d steps of %s; at most %d points are allowed: widen step or narrow the window", n, v.Get("step"), MaxStatsPoints)
	}
	return q, nil
}

// floorStep rounds t down to a multiple of step since the Unix epoch, in
// UTC: to the minute, hour or UTC day.
func floorStep(t time.Time, step time.Duration) time.Time {
	ns := t.UnixNano()
	r := ns % int64(step)
	if r < 0 {
		r += int64(step)
	}
	return time.Unix(0, ns-r).UTC()
}

// statsSize is about the answer's length: a point takes ~48 bytes.
func statsSize(q hepvault.StatsQuery, series []hepvault.StatsSeries) int {
	return 64 + len(series)*(64+48*int(q.To.Sub(q.From)/q.Step))
}

// appendStats writes the answer: {"series": [{"key": ..., "points":
// [{"t": RFC 3339, "count": N}, ...]}, ...]}. Written by hand: a window of
// 90 days at 1 h over 40 status codes is 86,400 points.
func appendStats(b []byte, q hepvault.StatsQuery, series []hepvault.StatsSeries) []byte {
	n := int(q.To.Sub(q.From) / q.Step)
	times := make([][]byte, n) // each step's time, formatted once
	for i := range times {
		times[i] = q.From.Add(time.Duration(i)*q.Step).UTC().AppendFormat(nil, time.RFC3339)
	}
	b = append(b, `{"series":[`...)
	for j, s := range series {
		if j > 0 {
			b = append(b, ',')
		}
		key, _ := json.Marshal(s.Key) // a string always marshals
		b = append(b, `{"key":`...)
		b = append(b, key...)
		b = append(b, `,"points":[`...)
		for i, p := range s.Points {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"t":"`...)
			if i < n && p.T.Equal(q.From.Add(time.Duration(i)*q.Step)) {
				b = append(b, times[i]...)
			} else {
				b = p.T.UTC().AppendFormat(b, time.RFC3339)
			}
			b = append(b, `","count":`...)
			b = strconv.AppendInt(b, p.Count, 10)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}\n"...)
}
