package store

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Several hepvault processes may share one database (several collectors
// behind a load balancer, or one per site). Each writes its own packets,
// but the work on the store as a whole (making tomorrow's partitions,
// retention, folding statistics, moving days to an archive) is done by one
// of them, the leader: the process holding a session advisory lock on a
// connection of its own. When the leader dies its session ends, PostgreSQL
// releases the lock, and another process takes it within RetryEvery.
//
// Leadership saves work and keeps the log readable; correctness does not
// rest on it. Every leader job takes its own transaction-level advisory
// lock where two runs would collide (partitionLock, statsLock), so a
// deposed leader still finishing a job while the next one starts is safe.

// leaderLock is the session advisory lock whose holder leads. Advisory
// locks are per database: stores in two databases of one server lead
// apart.
const leaderLock = 0x6865706c // "hepl"

// LeaderConfig says how often leadership is sought and checked.
type LeaderConfig struct {
	// RetryEvery is how often a process that does not lead tries the lock.
	RetryEvery time.Duration
	// CheckEvery is how often the leader checks that its connection, and
	// so its lock, is still there; CheckTimeout bounds each check.
	CheckEvery   time.Duration
	CheckTimeout time.Duration
	Logger       *slog.Logger
}

// DefaultLeaderConfig takes over from a dead leader within about a second
// of PostgreSQL ending its session.
func DefaultLeaderConfig() LeaderConfig {
	return LeaderConfig{RetryEvery: time.Second, CheckEvery: time.Second, CheckTimeout: 3 * time.Second}
}

// Server-side TCP settings of the lock's session. A leader that dies with
// its host, or behind a broken network, leaves a half-open connection that
// PostgreSQL would keep, lock and all, for the kernel's two hours of
// keepalive silence; with these it ends the session within ~10 s. On
// loopback, or when the process alone dies, the kernel closes the socket
// and the lock goes at once.
var leaderSessionParams = map[string]string{
	"tcp_keepalives_idle":     "5",
	"tcp_keepalives_interval": "2",
	"tcp_keepalives_count":    "3",
	"tcp_user_timeout":        "10000", // ms
	"application_name":        "hepvault leader",
}

// LeaderStats says whether this process leads and since when.
type LeaderStats struct {
	Leading bool
	Since   time.Time // when it last became leader; zero when never
	Terms   uint64    // how many times it became leader
}

// Leader runs the registered jobs while this process holds the leader
// lock, and stops them when it loses it.
type Leader struct {
	db  *DB
	cfg LeaderConfig
	log *slog.Logger

	mu   sync.Mutex
	jobs []leaderJob

	leading atomic.Bool
	since   atomic.Int64 // unix nanos
	terms   atomic.Uint64
}

type leaderJob struct {
	name string
	run  func(ctx context.Context)
}

// NewLeader returns the leader election of db; register jobs with Go or
// Every, then call Run.
func NewLeader(db *DB, cfg LeaderConfig) *Leader {
	def := DefaultLeaderConfig()
	if cfg.RetryEvery <= 0 {
		cfg.RetryEvery = def.RetryEvery
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = def.CheckEvery
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = def.CheckTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = db.log
	}
	return &Leader{db: db, cfg: cfg, log: cfg.Logger}
}

// Go registers run, a loop that works until its context ends: each time
// this process becomes leader it starts run, and it cancels run's context
// when leadership ends (lost, or Run's context done) and waits for it to
// return before another term can begin. A job registered while this
// process leads starts with the next term.
func (l *Leader) Go(name string, run func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs = append(l.jobs, leaderJob{name, run})
}

// leaderJobRetry is how soon an Every job that failed runs again: a busy
// database (a lock not had in time) is not an hour's wait.
const leaderJobRetry = 5 * time.Second

// Every registers job to run when this process becomes leader and then
// every interval while it leads; a run waits for the database to be ready
// (Prepare), and a failed run is logged and tried again within
// leaderJobRetry.
func (l *Leader) Every(name string, every time.Duration, job func(ctx context.Context, now time.Time) error) {
	l.Go(name, func(ctx context.Context) {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if !l.waitReady(ctx) {
				return
			}
			next := t.C
			if err := job(ctx, time.Now()); err != nil && ctx.Err() == nil {
				retry := min(every, leaderJobRetry)
				l.log.Warn("leader job failed; tried again", "job", name, "retry_in_s", retry.Seconds(), "err", err)
				next = time.After(retry)
			}
			select {
			case <-ctx.Done():
				return
			case <-next:
			}
		}
	})
}

// waitReady waits until the database is ready or ctx ends.
func (l *Leader) waitReady(ctx context.Context) bool {
	for !l.db.Ready() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
	return ctx.Err() == nil
}

// Leading reports whether this process leads now.
func (l *Leader) Leading() bool { return l != nil && l.leading.Load() }

// Stats returns the state of the election.
func (l *Leader) Stats() LeaderStats {
	st := LeaderStats{Leading: l.leading.Load(), Terms: l.terms.Load()}
	if n := l.since.Load(); n != 0 {
		st.Since = time.Unix(0, n)
	}
	return st
}

// Run seeks leadership until ctx ends: it tries the lock every RetryEvery
// and, once it holds it, runs the jobs until the lock's connection fails
// or ctx ends. On return it has released the lock, so another process
// takes over at once after a clean shutdown.
func (l *Leader) Run(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	t := time.NewTicker(l.cfg.RetryEvery)
	defer t.Stop()
	for {
		if conn == nil || conn.IsClosed() {
			conn = l.connect(ctx)
		}
		if conn != nil {
			got, err := l.try(ctx, conn)
			switch {
			case err != nil:
				conn.Close(context.Background())
				conn = nil
			case got:
				l.lead(ctx, conn) // closes conn
				conn = nil
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// connect opens the lock's own connection: not one of the pool's, whose
// connections come and go and would take the lock with them.
func (l *Leader) connect(ctx context.Context) *pgx.Conn {
	cfg := l.db.pool.Config().ConnConfig.Copy()
	for k, v := range leaderSessionParams {
		cfg.RuntimeParams[k] = v
	}
	cctx, cancel := context.WithTimeout(ctx, l.cfg.CheckTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		l.log.Debug("leader election: cannot connect; trying again", "err", err)
		return nil
	}
	return conn
}

func (l *Leader) try(ctx context.Context, conn *pgx.Conn) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, l.cfg.CheckTimeout)
	defer cancel()
	var got bool
	err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1)`, leaderLock).Scan(&got)
	return got, err
}

// lead runs the jobs while conn, which holds the lock, answers.
func (l *Leader) lead(ctx context.Context, conn *pgx.Conn) {
	start := time.Now()
	l.since.Store(start.UnixNano())
	l.terms.Add(1)
	l.leading.Store(true)
	var pid uint32
	if conn.PgConn() != nil {
		pid = conn.PgConn().PID()
	}
	l.mu.Lock()
	jobs := append([]leaderJob(nil), l.jobs...)
	l.mu.Unlock()
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = j.name
	}
	l.log.Info("leader: this process leads; running the store's periodic jobs", "jobs", strings.Join(names, ","), "lock_backend_pid", pid)

	jctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.run(jctx)
		}()
	}
	why := "shutting down"
	t := time.NewTicker(l.cfg.CheckEvery)
	defer t.Stop()
check:
	for {
		select {
		case <-ctx.Done():
			break check
		case <-t.C:
		}
		cctx, ccancel := context.WithTimeout(ctx, l.cfg.CheckTimeout)
		_, err := conn.Exec(cctx, `SELECT 1`)
		ccancel()
		if err != nil && ctx.Err() == nil {
			why = "lost the lock's connection: " + err.Error()
			break check
		}
	}
	cancel()
	wg.Wait()
	l.leading.Store(false)
	// Closing the session releases the lock; unlocking first tells
	// PostgreSQL at once even where closing takes a while.
	uctx, ucancel := context.WithTimeout(context.Background(), time.Second)
	_, _ = conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, leaderLock)
	ucancel()
	conn.Close(context.Background())
	if ctx.Err() != nil {
		l.log.Info("leader: stepped down", "why", why, "led_s", time.Since(start).Seconds())
	} else {
		l.log.Warn("leader: no longer leads; another process may take over", "why", why, "led_s", time.Since(start).Seconds())
	}
}
