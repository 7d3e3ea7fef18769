package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

	"github.com/hepvault/hepvault/store"
	"github.com/labstack/echo/v4"
)

// AccessConfig says who may use the API and how much one request may take.
type AccessConfig struct {
	// Token, when set, is an admin token named "default", as one of Tokens.
	Token string
	// Tokens are the named tokens (ParseTokens reads them from a file).
	// With Token or Tokens set, every route but the health checks
	// (/healthz, /readyz), which a load balancer or orchestrator must
	// reach without a secret, the web page's files, which hold no data and
	// ask for the token themselves, and the OpenAPI document, needs
	// "Authorization: Bearer <token>" of a token whose role allows it
	// (routeRole).
	Tokens []Token
	// QueryTimeout bounds the database work of one request; 0 means none.
	QueryTimeout time.Duration
	// MaxBody caps a request body; only POST /api/v1/holds reads one.
	MaxBody int64
}

// DefaultAccessConfig returns the limits hepvault serves with: no token.
func DefaultAccessConfig() AccessConfig {
	return AccessConfig{QueryTimeout: 30 * time.Second, MaxBody: 64 << 10}
}

// AccessLog takes the record of one request; it must not block (the
// store's AccessLogger queues it).
type AccessLog interface {
	Log(store.AccessEntry)
}

// publicPaths answer without a token: the health checks, and the API's
// description, which holds no data.
var publicPaths = map[string]bool{"/healthz": true, "/readyz": true, "/api/v1/openapi.json": true}

// auditedRoutes are the routes whose requests are written to the access
// log: those that return packets, calls, exports, holds or recordings
// (who called whom, and whether it was recorded).
var auditedRoutes = map[string]bool{
	"/api/v1/packets": true, "/api/v1/calls": true, "/api/v1/calls/:call_id": true,
	"/api/v1/holds": true, "/api/v1/holds/:id": true,
	"/api/v1/recordings": true, "/api/v1/recordings/gaps": true,
}

// routeRole is the role a request needs: admin for the access log and the
// holds, export for a pcap file, read for the rest.
func routeRole(route string, q func(string) string) Role {
	switch {
	case route == "/api/v1/access-log" || strings.HasPrefix(route, "/api/v1/holds"):
		return RoleAdmin
	case q("format") == "pcap":
		return RoleExport
	}
	return RoleRead
}

// The request's token, kept in the echo context for the access log.
const ctxToken = "hepvault.token"

// returnedKey holds how many packets, calls or holds a handler answered.
const returnedKey = "hepvault.returned"

func setReturned(c echo.Context, n int) { c.Set(returnedKey, n) }

// SetAccess applies cfg to every route, known or not (so an unauthenticated
// client cannot tell which routes exist). Call it before serving.
func (s *Server) SetAccess(cfg AccessConfig) {
	tokens := map[[sha256.Size]byte]Token{}
	for _, t := range cfg.Tokens {
		tokens[t.Hash] = t
	}
	if cfg.Token != "" {
		tokens[sha256.Sum256([]byte(cfg.Token))] = Token{Name: "default", Role: RoleAdmin}
	}
	s.echo.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			_, web := webPaths[r.URL.Path]
			if len(tokens) > 0 && !publicPaths[r.URL.Path] && !web {
				tok, ok := tokenOf(r.Header.Get(echo.HeaderAuthorization), tokens)
				if !ok {
					c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="hepvault"`)
					return echo.NewHTTPError(http.StatusUnauthorized, "missing or wrong API token: send \"Authorization: Bearer <token>\" (hepvault query --token, or HEPVAULT_API_TOKEN)")
				}
				c.Set(ctxToken, tok)
				if need := routeRole(c.Path(), c.QueryParam); !tok.Role.allows(need) {
					err := echo.NewHTTPError(http.StatusForbidden, "this request needs a token with the "+need.String()+" role; token \""+tok.Name+"\" has the "+tok.Role.String()+" role")
					s.logAccess(c, err)
					return err
				}
			}
			if cfg.MaxBody > 0 {
				if r.ContentLength > cfg.MaxBody {
					return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
				}
				r.Body = http.MaxBytesReader(c.Response(), r.Body, cfg.MaxBody)
			}
			if cfg.QueryTimeout > 0 {
				ctx, cancel := context.WithTimeout(r.Context(), cfg.QueryTimeout)
				defer cancel()
				c.SetRequest(r.WithContext(ctx))
			}
			err := next(c)
			s.logAccess(c, err)
			return err
		}
	})
}

// logAccess records an audited request, whatever its outcome.
func (s *Server) logAccess(c echo.Context, err error) {
	if s.access == nil || !auditedRoutes[c.Path()] {
		return
	}
	e := store.AccessEntry{At: time.Now().UTC(), Client: c.RealIP(), Method: c.Request().Method, Route: c.Path(),
		Params: c.QueryString(), Status: c.Response().Status}
	if tok, ok := c.Get(ctxToken).(Token); ok {
		e.Token, e.Role = tok.Name, tok.Role.String()
	}
	if p := c.Param("call_id"); p != "" {
		e.Params = strings.TrimPrefix(e.Params+"&call_id="+p, "&")
	}
	if p, ok := c.Get(paramsKey).(string); ok {
		e.Params = strings.TrimPrefix(e.Params+"&"+p, "&")
	}
	if err != nil {
		e.Status, _ = s.errorAnswer(err)
	}
	if n, ok := c.Get(returnedKey).(int); ok {
		e.Returned = n
	}
	s.access.Log(e)
}

// paramsKey holds what a request said beyond its query string (a hold's
// body), for the access log.
const paramsKey = "hepvault.params"

// tokenOf finds the token "Bearer <token>" names. The presented token is
// hashed first and looked up by its hash, so what timing could tell is
// about SHA-256 values, not the token's bytes or length.
func tokenOf(header string, tokens map[[sha256.Size]byte]Token) (Token, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Token{}, false
	}
	t, ok := tokens[sha256.Sum256([]byte(strings.TrimSpace(token)))]
	return t, ok
}
