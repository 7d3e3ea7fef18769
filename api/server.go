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
	audit   Audit // nil: the store keeps no coverage, access log or holds
	access  AccessLog
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
	s.audit, _ = store.(Audit)
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
	e.GET("/api/v1/coverage", s.handleCoverage)
	e.GET("/api/v1/access-log", s.handleAccessLog)
	e.GET("/api/v1/holds", s.handleHolds)
	e.POST("/api/v1/holds", s.handleAddHold)
	e.DELETE("/api/v1/holds/:id", s.handleEndHold)
	e.GET("/api/v1/recordings", s.handleRecordings)
	e.GET("/api/v1/recordings/gaps", s.handleRecordingGaps)
	e.GET("/api/v1/openapi.json", s.handleOpenAPI)
	e.GET("/api/v1/seals", s.handleSeals)
	for path := range webPaths {
		e.GET(path, s.handleWeb)
	}
	return s
}

// Audit is what the coverage, access log and holds routes need from
// storage; *store.DB has it.
type Audit interface {
	Coverage(ctx context.Context, q store.CoverageQuery) (store.Coverage, error)
	AccessLog(ctx context.Context, q store.AccessQuery) ([]store.AccessEntry, error)
	AddHold(ctx context.Context, h store.Hold) (store.Hold, error)
	Holds(ctx context.Context, all bool) ([]store.Hold, error)
	EndHold(ctx context.Context, id int64, by string) (store.Hold, error)
}

// SetAudit has the coverage, access log and holds routes use a; by
// default they use the store given to New when it has them. Call it before
// serving.
func (s *Server) SetAudit(a Audit) { s.audit = a }

// SetAccessLog has every request that returns packets, calls, exports or
// holds recorded in l. Call it before serving.
func (s *Server) SetAccessLog(l AccessLog) { s.access = l }

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
	status, msg := s.errorAnswer(err)
	if status >= 500 {
		s.log.Error("api request failed", "path", c.Path(), "status", status, "err", err)
	}
	_ = c.JSON(status, map[string]string{"error": msg})
}

// errorAnswer is the status and message err is answered with.
func (s *Server) errorAnswer(err error) (int, string) {
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
	return status, msg
}
