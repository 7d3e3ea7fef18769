package api

import (
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The web page is three static files, embedded so that the binary serves
// it as it is: no build step, no CDN (users and CI may have no internet).
//
//go:embed web/index.html web/app.js web/app.css
var webFiles embed.FS

// webPaths are the page and its assets. They carry no data, so they answer
// without the API token: the page itself asks for the token when an API
// call needs it.
var webPaths = map[string]string{
	"/":           "web/index.html",
	"/ui/app.js":  "web/app.js",
	"/ui/app.css": "web/app.css",
}

var webTypes = map[string]string{
	"/":           echo.MIMETextHTMLCharsetUTF8,
	"/ui/app.js":  "text/javascript; charset=utf-8",
	"/ui/app.css": "text/css; charset=utf-8",
}

func (s *Server) handleWeb(c echo.Context) error {
	path := c.Request().URL.Path
	b, err := webFiles.ReadFile(webPaths[path])
	if err != nil {
		return err
	}
	h := c.Response().Header()
	// The files change with the binary: revalidate rather than cache blindly.
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, webTypes[path], b)
}
