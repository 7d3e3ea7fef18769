package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/labstack/echo/v4"
)

// Store is what the API needs from storage.
type Store interface {
	Packets(ctx context.Context, f hepvault.Filter) ([]hepvault.Packet, bool, error)
	// CallLegs gives the packets of one Call-ID and the Call-IDs of its
	// other legs; with legPackets, the packets of every leg.
	CallLegs(ctx context.Context, callID string, legPackets bool) ([]hepvault.Packet, []string, error)
	Calls(ctx context.Context, f store.CallFilter) (store.CallsPage, error)
	Stats(ctx context.Context, q hepvault.StatsQuery) ([]hepvault.StatsSeries, error)
	Recordings(ctx context.Context, f store.RecordingFilter) (store.RecordingsPage, error)
	RecordingGaps(ctx context.Context, from, to time.Time) ([]store.Gap, error)
	Seals(ctx context.Context, from, to time.Time) ([]store.Seal, error)
	Ping(ctx context.Context) error
}

// Server routes the API.
type Server struct {
	store   Store
	metrics http.Handler
	spool   Spool // nil: no spool
	guard   Guard // nil: no disk guard
	// replica, when set, is where the queries read (handle_health.go).
	replica       Replica
	maxReplicaLag time.Duration
	replicaLog    everyLimiter
	log           *slog.Logger
	echo          *echo.Echo
}

// New returns the API over store; metrics serves /metrics (the Prometheus
// page) and may be nil.
func New(store Store, metrics http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{store: store, metrics: metrics, log: log, echo: echo.New()}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.GET("/healthz", s.handleHealth)
	e.GET("/readyz", s.handleReady)
	e.GET("/metrics", s.handleMetrics)
	e.GET("/api/v1/packets", s.handlePackets)
	e.GET("/api/v1/calls", s.handleCalls)
	e.GET("/api/v1/calls/:call_id", s.handleCall)
	e.GET("/api/v1/stats", s.handleStats)
	e.GET("/api/v1/recordings", s.handleRecordings)
	e.GET("/api/v1/recordings/gaps", s.handleRecordingGaps)
	e.GET("/api/v1/openapi.json", s.handleOpenAPI)
	e.GET("/api/v1/seals", s.handleSeals)
	for path := range webPaths {
		e.GET(path, s.handleWeb)
	}
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// errorStatus maps the root error kinds to HTTP status codes, in one place.
var errorStatus = []struct {
	err    error
	status int
}{
	{hepvault.ErrInvalid, http.StatusBadRequest},
	{hepvault.ErrNotFound, http.StatusNotFound},
	{hepvault.ErrUnavailable, http.StatusServiceUnavailable},
	{context.DeadlineExceeded, http.StatusGatewayTimeout},
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status, msg = he.Code, http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
	} else {
		for _, e := range errorStatus {
			if errors.Is(err, e.err) {
				status, msg = e.status, err.Error()
				break
			}
		}
	}
	if status >= 500 {
		s.log.Error("api request failed", "path", c.Path(), "status", status, "err", err)
	}
	_ = c.JSON(status, map[string]string{"error": msg})
}
