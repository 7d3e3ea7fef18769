package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hepvault/hepvault/api"
)

// TestWeb_Files: the page and its assets are served from the binary, each
// with its type, and load nothing from elsewhere (users and CI may have no
// internet).
func TestWeb_Files(t *testing.T) {
	srv := newGuardedServer(t, api.DefaultAccessConfig())
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for path, want := range map[string]string{
		"/":           "text/html; charset=UTF-8",
		"/ui/app.js":  "text/javascript; charset=utf-8",
		"/ui/app.css": "text/css; charset=utf-8",
	} {
		code, body, hdr := do(t, srv, http.MethodGet, path, "", "")
		if code != http.StatusOK || hdr.Get("Content-Type") != want || len(body) < 1000 {
			t.Fatalf("GET %s: unexpected answer %d %q, %d bytes", path, code, hdr.Get("Content-Type"), len(body))
		}
		// The SVG namespace is a name, not a fetch.
		for _, m := range external.FindAllString(body, -1) {
			if !strings.Contains(m, "www.w3.org") {
				t.Fatalf("GET %s: refers to %q outside hepvault", path, m)
			}
		}
	}
	code, body, _ := do(t, srv, http.MethodGet, "/", "", "")
	if code != http.StatusOK || !strings.Contains(body, `src="ui/app.js"`) || !strings.Contains(body, `href="ui/app.css"`) {
		t.Fatalf("unexpected page: %d\n%s", code, body)
	}
	if code, _, _ := do(t, srv, http.MethodGet, "/ui/nope.js", "", ""); code != http.StatusNotFound {
		t.Fatalf("unexpected status for an asset that does not exist: %d", code)
	}
}
