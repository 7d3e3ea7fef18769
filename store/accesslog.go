package store

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// AccessEntry is one API request that returned packets, calls, an export
// or holds (table access_log).
type AccessEntry struct {
	At       time.Time `json:"at"`
	Token    string    `json:"token"` // the token's name; "" when the API takes none
	Role     string    `json:"role"`
	Client   string    `json:"client"`
	Method   string    `json:"method"`
	Route    string    `json:"route"`
	Params   string    `json:"params"`
	Status   int       `json:"status"`
	Returned int       `json:"returned"`
}

// InsertAccess stores entries.
func (db *DB) InsertAccess(ctx context.Context, es []AccessEntry) error {
	if err := db.errNotReady(); err != nil {
		return err
	}
	_, err := db.pool.CopyFrom(ctx, pgx.Identifier{"access_log"},
		[]string{"at", "token", "role", "client", "method", "route", "params", "status", "returned"},
		pgx.CopyFromSlice(len(es), func(i int) ([]any, error) {
			e := es[i]
			return []any{e.At, cleanText(e.Token), cleanText(e.Role), cleanText(e.Client), cleanText(e.Method),
				cleanText(e.Route), cleanText(e.Params), int16(e.Status), int32(e.Returned)}, nil
		}))
	return interpretError("write the access log", err)
}

// AccessQuery selects access log rows: [From, To), of one token when Token
// is set, at most Limit, oldest first.
type AccessQuery struct {
	From, To time.Time
	Token    string
	Limit    int
}

// AccessLog reads the access log.
func (db *DB) AccessLog(ctx context.Context, q AccessQuery) ([]AccessEntry, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `
		SELECT at, token, role, client, method, route, params, status, returned FROM access_log
		WHERE at >= $1 AND at < $2 AND ($3 = '' OR token = $3)
		ORDER BY at LIMIT $4`, q.From, q.To, q.Token, q.Limit)
	if err != nil {
		return nil, interpretError("read the access log", err)
	}
	out := []AccessEntry{}
	for rows.Next() {
		var e AccessEntry
		var status int16
		var returned int32
		if err := rows.Scan(&e.At, &e.Token, &e.Role, &e.Client, &e.Method, &e.Route, &e.Params, &status, &returned); err != nil {
			return nil, interpretError("read the access log", err)
		}
		e.At, e.Status, e.Returned = e.At.UTC(), int(status), int(returned)
		out = append(out, e)
	}
	return out, interpretError("read the access log", rows.Err())
}

// AccessLogger writes access log entries off the request path: Log hands
// an entry to a buffered channel and never waits; Run batches them into
// the database. An entry the channel cannot take, or that waited in
// memory past MaxPending while the database was away, is counted and
// logged at most every 10 s.
type AccessLogger struct {
	db      *DB
	log     *slog.Logger
	ch      chan AccessEntry
	dropped atomic.Uint64
	stored  atomic.Uint64
	lastLog atomic.Int64 // unix nanos of the last drop logged
	// MaxPending bounds the entries held while the database does not take them.
	MaxPending int
}

// NewAccessLogger returns a logger whose channel holds size entries.
func NewAccessLogger(db *DB, log *slog.Logger, size int) *AccessLogger {
	if log == nil {
		log = slog.Default()
	}
	return &AccessLogger{db: db, log: log, ch: make(chan AccessEntry, size), MaxPending: 100000}
}

// Log queues e; when the channel is full it drops e and counts it.
func (l *AccessLogger) Log(e AccessEntry) {
	select {
	case l.ch <- e:
	default:
		l.drop(1, "the access log's queue is full")
	}
}

// Dropped returns how many entries were lost.
func (l *AccessLogger) Dropped() uint64 { return l.dropped.Load() }

// Stored returns how many entries the database took.
func (l *AccessLogger) Stored() uint64 { return l.stored.Load() }

func (l *AccessLogger) drop(n int, why string) {
	total := l.dropped.Add(uint64(n))
	now := time.Now().UnixNano()
	if last := l.lastLog.Load(); now-last >= int64(10*time.Second) && l.lastLog.CompareAndSwap(last, now) {
		l.log.Warn("access log entries lost", "why", why, "lost_total", total)
	}
}

// Run writes entries until ctx ends, then writes what is left (for up to
// five seconds).
func (l *AccessLogger) Run(ctx context.Context) {
	const every = 500 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	var pending []AccessEntry
	flush := func(ctx context.Context) {
		if len(pending) == 0 || !l.db.Ready() {
			return
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := l.db.InsertAccess(wctx, pending)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn("could not write the access log; keeping the entries to try again", "entries", len(pending), "err", err)
			}
			return
		}
		l.stored.Add(uint64(len(pending)))
		pending = pending[:0]
	}
	for {
		select {
		case e := <-l.ch:
			if len(pending) >= l.MaxPending {
				l.drop(1, "the database has not taken the access log for a while")
				continue
			}
			pending = append(pending, e)
			if len(pending) >= 1000 {
				flush(ctx)
			}
		case <-t.C:
			flush(ctx)
		case <-ctx.Done():
		drain:
			for {
				select {
				case e := <-l.ch:
					pending = append(pending, e)
				default:
					break drain
				}
			}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			flush(fctx)
			cancel()
			return
		}
	}
}
