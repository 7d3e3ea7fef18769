package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The OpenAPI document (api/openapi.json) is held to the server: every
// route served is described and every route described is served, and real
// requests to each route, good and bad, and their answers must match it.
// A route added without its description, or a field added to an answer,
// fails here.

const testToken = "openapi-test-token"

// openapiCase is a request and the status it must get. specRejects says
// the document itself refuses the request (a limit out of range, a value
// not in an enum), as the server does.
type openapiCase struct {
	method      string // GET when empty
	body        string // JSON
	path        string
	status      int
	specRejects bool
	noToken     bool
	// holds names the answer's JSON array that must not be empty: an
	// empty list matches any schema of its items, so it checks nothing.
	holds string
}

// openapiCases are the requests made, against newServerDSN's packets
// (captured from 2026-11-25T12:20:33Z on) and the SIPREC capture's
// (2026-12-07T04:08:31Z to 04:08:37Z: three recordings, two gaps). Every
// route described needs at least one answered 2xx here.
var openapiCases = func() []openapiCase {
	w := "from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z"
	rw := "from=2026-12-07T04:08:00Z&to=2026-12-07T04:09:00Z"
	// A cursor as the server writes one (params.go): the position 1 µs
	// into the capture, before every recording, so the page is not empty.
	cursor := base64.RawURLEncoding.EncodeToString([]byte("1796616480000001.0"))
	return []openapiCase{
		{path: "/api/v1/packets?limit=2", status: 200, holds: "packets"},
		{path: "/api/v1/packets?" + w + "&method=INVITE,ACK&format=json", status: 200},
		{path: "/api/v1/packets?format=text&limit=3", status: 200},
		{path: "/api/v1/packets?format=pcap&limit=2", status: 200},
		{path: "/api/v1/packets?call_id=call-1@x&kind=response&status_class=1xx,2xx&src_ip=127.0.0.1", status: 200},
		{path: "/api/v1/packets?user=%2B4930+7741528&correlation_id=corr-reg", status: 200},
		{path: "/api/v1/packets?limit=0", status: 400, specRejects: true},
		{path: "/api/v1/packets?limit=ten", status: 400, specRejects: true},
		{path: "/api/v1/packets?format=xml", status: 400, specRejects: true},
		{path: "/api/v1/packets?method=INVITE,,BYE", status: 400},
		{path: "/api/v1/packets?bogus=1", status: 400},
		{path: "/api/v1/packets", status: 401, noToken: true},
		{path: "/api/v1/calls?" + w, status: 200, holds: "calls"},
		{path: "/api/v1/calls?" + w + "&state=answered,registered&limit=1", status: 200},
		{path: "/api/v1/calls?limit=5000", status: 400, specRejects: true},
		{path: "/api/v1/calls?state=ringing", status: 400},
		{path: "/api/v1/calls/call-1@x", status: 200},
		{path: "/api/v1/calls/call-1@x?format=pcap", status: 200},
		{path: "/api/v1/calls/call-1@x?legs=true", status: 200},
		{path: "/api/v1/calls/call-1@x?legs=yes", status: 400, specRejects: true},
		{path: "/api/v1/calls/" + url.PathEscape("reg/1 x") + "?format=text", status: 200},
		{path: "/api/v1/calls/nobody@x", status: 404},
		{path: "/api/v1/calls/call-1@x?limit=1", status: 400},
		{path: "/api/v1/stats?" + w + "&step=1m&by=method", status: 200, holds: "series"},
		{path: "/api/v1/stats?" + w + "&step=1h&by=status_class", status: 200},
		{path: "/api/v1/stats?" + w + "&step=2m&by=method", status: 400, specRejects: true},
		{path: "/api/v1/stats?step=1m&by=method", status: 400, specRejects: true},
		{path: "/api/v1/stats?from=2026-11-25T13:00:00Z&to=2026-11-25T12:00:00Z&step=1m&by=kind", status: 400},
		{path: "/api/v1/seals?from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z", status: 200},
		{path: "/api/v1/seals?day=2026-11-25", status: 400},
		{path: "/api/v1/recordings?" + rw, status: 200, holds: "recordings"},
		{path: "/api/v1/recordings?" + rw + "&limit=1", status: 200, holds: "recordings"},
		{path: "/api/v1/recordings?" + rw + "&user=dave&limit=1000&cursor=" + cursor, status: 200, holds: "recordings"},
		{path: "/api/v1/recordings?" + w, status: 200},
		{path: "/api/v1/recordings", status: 400, specRejects: true},
		{path: "/api/v1/recordings?from=2026-12-07T04:08:00Z", status: 400, specRejects: true},
		{path: "/api/v1/recordings?" + rw + "&limit=0", status: 400, specRejects: true},
		{path: "/api/v1/recordings?" + rw + "&limit=1001", status: 400, specRejects: true},
		{path: "/api/v1/recordings?" + rw + "&cursor=x", status: 400},
		{path: "/api/v1/recordings?" + rw + "&usr=dave", status: 400},
		{path: "/api/v1/recordings?from=2026-12-07T04:09:00Z&to=2026-12-07T04:08:00Z", status: 400},
		{path: "/api/v1/recordings?" + rw, status: 401, noToken: true},
		{path: "/api/v1/recordings/gaps?" + rw, status: 200, holds: "gaps"},
		{path: "/api/v1/recordings/gaps?to=2026-12-07T04:09:00Z", status: 400, specRejects: true},
		{path: "/api/v1/recordings/gaps?from=2026-11-01T00:00:00Z&to=2026-12-07T04:09:00Z", status: 400},
		{path: "/api/v1/recordings/gaps?" + rw + "&user=dave", status: 400},
		{path: "/api/v1/recordings/gaps?" + rw, status: 401, noToken: true},
		{path: "/api/v1/openapi.json", status: 200, noToken: true},
		{path: "/healthz", status: 200, noToken: true},
		{path: "/readyz", status: 200, noToken: true},
		{path: "/metrics", status: 200},
		{path: "/metrics", status: 401, noToken: true},
		{path: "/", status: 200, noToken: true},
		{path: "/ui/app.js", status: 200, noToken: true},
		{path: "/ui/app.css", status: 200, noToken: true},
		{path: "/api/v1/coverage?" + w, status: 200},
		{path: "/api/v1/coverage?" + w + "&gap=500ms", status: 400},
		{path: "/api/v1/coverage?from=2026-11-25T12:00:00Z", status: 400, specRejects: true},
		{path: "/api/v1/access-log?" + w + "&limit=10", status: 200},
		{path: "/api/v1/access-log?" + w + "&limit=0", status: 400, specRejects: true},
		{method: http.MethodPost, path: "/api/v1/holds", body: `{"call_id":"call-1@x","reason":"case 1"}`, status: 201},
		{method: http.MethodPost, path: "/api/v1/holds", body: `{"filter":"method=INVITE","reason":"case 2","from":"2026-11-25T12:00:00Z","to":"2026-11-25T13:00:00Z"}`, status: 201},
		{method: http.MethodPost, path: "/api/v1/holds", body: `{"call_id":"call-1@x"}`, status: 400, specRejects: true},
		{path: "/api/v1/holds?all=true", status: 200},
		{method: http.MethodDelete, path: "/api/v1/holds/1", status: 200},
		{method: http.MethodDelete, path: "/api/v1/holds/1", status: 404},
	}
}()

func init() {
	// Answers that are files: their body is checked as a string.
	for _, ct := range []string{"application/vnd.tcpdump.pcap", "text/html", "text/javascript", "text/css", "application/openmetrics-text"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

// openapiServer serves the API with a token and real metrics over
// newServerDSN's database with the SIPREC capture added (newServerDSN
// holds no recording), and returns it with its OpenAPI document as it
// serves it.
func openapiServer(t *testing.T) (*api.Server, *httptest.Server, *openapi3.T) {
	t.Helper()
	_, db := newServer(t)
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(context.Background(), loadCapture(t, "kamailio-siprec.pcap")); err != nil {
		t.Fatal(err)
	}
	// Its past days sealed, so that /api/v1/seals answers with a seal.
	if _, err := db.SealDays(context.Background(), time.Now(), store.DefaultSealConfig()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "hepvault_openapi_test_total", Help: "A metric to serve."}))
	s := api.New(db, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil)
	cfg := api.DefaultAccessConfig()
	cfg.Token = testToken
	s.SetAccess(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	status, body := get(t, srv, "/api/v1/openapi.json")
	if status != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json without a token: %d %s", status, body)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(body))
	if err != nil {
		t.Fatalf("api/openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.json is not valid OpenAPI 3: %v", err)
	}
	return s, srv, doc
}

// documented lists the document's operations as "GET /path".
func documented(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	return out
}

func TestOpenAPI_Routes(t *testing.T) {
	s, _, doc := openapiServer(t)
	served, described := s.Routes(), documented(doc)
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is served but not described: add it under \"paths\" in api/openapi.json", r)
		}
	}
	for _, d := range described {
		if !slices.Contains(served, d) {
			t.Errorf("api/openapi.json describes %s, which the server does not serve (api.New registers the routes)", d)
		}
	}
	if len(served) < 10 {
		t.Fatalf("unexpected routes served: %v", served)
	}
}

func TestOpenAPI_Answers(t *testing.T) {
	_, srv, doc := openapiServer(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	auth := func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		if in.RequestValidationInput.Request.Header.Get("Authorization") != "Bearer "+testToken {
			return fmt.Errorf("no bearer token")
		}
		return nil
	}
	answered := map[string]bool{}
	for _, tc := range openapiCases {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.noToken {
				req.Header.Set("Authorization", "Bearer "+testToken)
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("no route of api/openapi.json matches: %v", err)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: auth, MultiError: true}}
			reqErr := openapi3filter.ValidateRequest(ctx, in)
			switch {
			case tc.status < 400 && reqErr != nil:
				t.Fatalf("a good request the document refuses: %v", reqErr)
			case tc.specRejects && reqErr == nil:
				t.Fatalf("the document accepts a request the server refuses (%d); say why in its parameters", tc.status)
			}

			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("unexpected status; got %d; want %d: %s", resp.StatusCode, tc.status, clip(body))
			}
			out := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
				Body: io.NopCloser(bytes.NewReader(body)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
					// The field and the reason; the schema's whole text would bury them.
					SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}},
			}
			if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
				t.Fatalf("the answer (%d %s) does not match api/openapi.json: %v\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), err, clip(body))
			}
			if tc.holds != "" {
				var a map[string]json.RawMessage
				var items []json.RawMessage
				if err := json.Unmarshal(body, &a); err != nil || json.Unmarshal(a[tc.holds], &items) != nil || len(items) == 0 {
					t.Fatalf("the answer holds no %s to check against api/openapi.json: %s", tc.holds, clip(body))
				}
			}
			if tc.status < 300 {
				answered[routeName(route)] = true
			}
		})
	}
	for _, op := range documented(doc) {
		if !answered[op] {
			t.Errorf("%s: no good request in openapiCases (openapi_test.go); add one, so its answers are checked", op)
		}
	}
}

func routeName(r *routers.Route) string { return r.Method + " " + r.Path }

func clip(b []byte) string {
	s := string(b)
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return strings.TrimSpace(s)
}
