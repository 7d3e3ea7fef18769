package api

import (
	_ "embed"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// openAPI describes every route of the server, its parameters and its
// answers. It is the one place a route is described: openapi_test.go holds
// it to the routes New registers and to the answers they give.
//
//go:embed openapi.json
var openAPI []byte

func (s *Server) handleOpenAPI(c echo.Context) error {
	// The document changes with the binary: revalidate rather than cache.
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}

// Routes lists the routes served, each as its method and its path in
// OpenAPI's form ("GET /api/v1/calls/{call_id}"), sorted as registered.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		segs := strings.Split(r.Path, "/")
		for i, seg := range segs {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				segs[i] = "{" + name + "}"
			}
		}
		out = append(out, r.Method+" "+strings.Join(segs, "/"))
	}
	return out
}
