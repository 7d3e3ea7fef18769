package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Spool tells how much waits on disk for the database.
type Spool interface {
	Bytes() int64
}

// SetSpool makes /healthz report the spool's size.
func (s *Server) SetSpool(sp Spool) { s.spool = sp }

// Guard tells whether new packets are being written, and what the disk
// guard did last.
type Guard interface {
	GuardState() (paused bool, detail string)
}

// SetGuard makes /healthz and /readyz report the disk guard: /readyz
// answers 503 while it has paused writing.
func (s *Server) SetGuard(g Guard) { s.guard = g }

// health is the /healthz answer.
type health struct {
	Status     string `json:"status"`
	Database   string `json:"database"` // "up" or "down"
	SpoolBytes int64  `json:"spool_bytes"`
	Error      string `json:"error,omitempty"` // why the database is down
	// Writing is "on", or "paused" while the disk guard drops new packets;
	// Disk says what the guard did last.
	Writing string `json:"writing,omitempty"`
	Disk    string `json:"disk,omitempty"`
	// With reads from a replica (SetReplica): Replica is "up", "behind"
	// (lagging past the bound) or "down", ReplicaLagS its lag in seconds.
	Replica     string   `json:"replica,omitempty"`
	ReplicaLagS *float64 `json:"replica_lag_s,omitempty"`
}

func (s *Server) checkHealth(c echo.Context) (health, bool) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	h := health{Status: "ok", Database: "up"}
	if s.spool != nil {
		h.SpoolBytes = s.spool.Bytes()
	}
	paused := false
	if s.guard != nil {
		paused, h.Disk = s.guard.GuardState()
		h.Writing = "on"
		if paused {
			h.Status, h.Writing = "degraded", "paused"
		}
	}
	replicaOK := s.checkReplica(ctx, &h)
	if err := s.store.Ping(ctx); err != nil {
		h.Database, h.Error = "down", err.Error()
		return h, false
	}
	return h, !paused && replicaOK
}

// Replica is the database the queries read from when it is not the one
// written to: a streaming replica, which says how far behind it is.
type Replica interface {
	ReplicaLag(ctx context.Context) (time.Duration, error)
}

// SetReplica makes /healthz and /readyz report the lag of the replica the
// queries read from: /readyz answers 503 while it is down or lags more
// than maxLag.
func (s *Server) SetReplica(r Replica, maxLag time.Duration) {
	s.replica, s.maxReplicaLag = r, maxLag
}

// checkReplica fills h's replica fields and reports whether the replica
// may serve.
func (s *Server) checkReplica(ctx context.Context, h *health) bool {
	if s.replica == nil {
		return true
	}
	lag, err := s.replica.ReplicaLag(ctx)
	if err != nil {
		// The log has the database's words; the answer says what it means.
		h.Replica = "down"
		if s.replicaLog.Allow() {
			s.log.Warn("read replica: cannot tell its lag; queries may fail", "err", err)
		}
		return false
	}
	secs := lag.Seconds()
	h.ReplicaLagS, h.Replica = &secs, "up"
	if s.maxReplicaLag > 0 && lag > s.maxReplicaLag {
		h.Replica = "behind"
		return false
	}
	return true
}

// handleHealth answers 200 whenever hepvault is alive: while the database is
// away it keeps receiving, into the spool. The body says whether the
// database answers.
func (s *Server) handleHealth(c echo.Context) error {
	h, _ := s.checkHealth(c)
	return c.JSON(http.StatusOK, h)
}

// handleReady answers 200 only while the database answers and new packets
// are written, 503 otherwise.
func (s *Server) handleReady(c echo.Context) error {
	h, up := s.checkHealth(c)
	if !up {
		return c.JSON(http.StatusServiceUnavailable, h)
	}
	return c.JSON(http.StatusOK, h)
}

func (s *Server) handleMetrics(c echo.Context) error {
	if s.metrics == nil {
		return echo.NewHTTPError(http.StatusNotFound, "no metrics")
	}
	s.metrics.ServeHTTP(c.Response(), c.Request())
	return nil
}

// everyLimiter allows one event per 10 s: a log line per failed health
// check would flood the log while a monitor polls a down replica.
type everyLimiter struct {
	mu   sync.Mutex
	last time.Time
}

func (l *everyLimiter) Allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.last) >= 10*time.Second {
		l.last = now
		return true
	}
	return false
}
