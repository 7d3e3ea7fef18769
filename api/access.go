package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// AccessConfig says who may use the API and how much one request may take.
type AccessConfig struct {
	// Token, when set, is required as "Authorization: Bearer <Token>" on
	// every route but the health checks (/healthz, /readyz), which a load
	// balancer or orchestrator must reach without a secret, the web
	// page's files, which hold no data and ask for the token themselves,
	// and the OpenAPI document.
	Token string
	// QueryTimeout bounds the database work of one request; 0 means none.
	QueryTimeout time.Duration
	// MaxBody caps a request body; the API reads none, so a body is only
	// ever a mistake or an attack.
	MaxBody int64
}

// DefaultAccessConfig returns the limits hepvault serves with: no token.
func DefaultAccessConfig() AccessConfig {
	return AccessConfig{QueryTimeout: 30 * time.Second, MaxBody: 64 << 10}
}

// publicPaths answer without a token: the health checks, and the API's
// description, which holds no data.
var publicPaths = map[string]bool{"/healthz": true, "/readyz": true, "/api/v1/openapi.json": true}

// SetAccess applies cfg to every route, known or not (so an unauthenticated
// client cannot tell which routes exist). Call it before serving.
func (s *Server) SetAccess(cfg AccessConfig) {
	var want [sha256.Size]byte
	if cfg.Token != "" {
		want = sha256.Sum256([]byte(cfg.Token))
	}
	s.echo.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			_, web := webPaths[r.URL.Path]
			if cfg.Token != "" && !publicPaths[r.URL.Path] && !web && !tokenMatches(r.Header.Get(echo.HeaderAuthorization), want) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="hepvault"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "missing or wrong API token: send \"Authorization: Bearer <token>\" (hepvault query --token, or HEPVAULT_API_TOKEN)")
			}
			if cfg.MaxBody > 0 {
				if r.ContentLength > cfg.MaxBody {
					return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large; the API takes none")
				}
				r.Body = http.MaxBytesReader(c.Response(), r.Body, cfg.MaxBody)
			}
			if cfg.QueryTimeout > 0 {
				ctx, cancel := context.WithTimeout(r.Context(), cfg.QueryTimeout)
				defer cancel()
				c.SetRequest(r.WithContext(ctx))
			}
			return next(c)
		}
	})
}

// tokenMatches checks "Bearer <token>" in constant time: both sides are
// hashed first, so neither the token's bytes nor its length leak through
// timing.
func tokenMatches(header string, want [sha256.Size]byte) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
