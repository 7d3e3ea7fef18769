package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/labstack/echo/v4"
)

// handleSeals answers GET /api/v1/seals: the seals of the days in
// [from, to), each as the statement `hepvault seals export` prints.
func (s *Server) handleSeals(c echo.Context) error {
	v := c.QueryParams()
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if name != "from" && name != "to" {
			return invalid("unknown parameter %q (seals takes from and to)", name)
		}
		if len(v[name]) > 1 {
			return invalid("%s is given %d times; give it once", name, len(v[name]))
		}
	}
	var from, to time.Time
	for _, t := range []struct {
		name string
		at   *time.Time
	}{{"from", &from}, {"to", &to}} {
		if s := v.Get(t.name); s != "" {
			tm, err := hepvault.ParseTime(s)
			if err != nil {
				return invalid("%s: %v", t.name, err)
			}
			*t.at = tm
		}
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return invalid("to (%s) must be after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	seals, err := s.store.Seals(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	if seals == nil {
		seals = []store.Seal{}
	}
	b, err := json.Marshal(struct {
		Seals []store.Seal `json:"seals"`
	}{seals})
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}
