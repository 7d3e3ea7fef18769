package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// TestLeader_OneLeadsAndAnotherTakesOver: of two processes on one
// database, one runs the jobs. When its session dies (the backend
// terminated, as when the process or its host dies), its jobs stop and a
// new term begins within seconds, on whichever process takes the lock
// first; when the leader stops cleanly, the other takes over.
func TestLeader_OneLeadsAndAnotherTakesOver(t *testing.T) {
	db, dsn := openDSN(t)
	cfg := store.DefaultLeaderConfig()
	cfg.RetryEvery, cfg.CheckEvery = 200*time.Millisecond, 200*time.Millisecond
	type node struct {
		l       *store.Leader
		running atomic.Int32 // jobs running now
		runs    atomic.Int32 // Every runs
		stop    context.CancelFunc
		done    chan struct{}
	}
	nodes := make([]*node, 2)
	for i := range nodes {
		ctx, stop := context.WithCancel(context.Background())
		n := &node{l: store.NewLeader(db, cfg), stop: stop, done: make(chan struct{})}
		n.l.Go("loop", func(ctx context.Context) {
			n.running.Add(1)
			defer n.running.Add(-1)
			<-ctx.Done()
		})
		n.l.Every("tick", time.Hour, func(context.Context, time.Time) error { n.runs.Add(1); return nil })
		go func() {
			defer close(n.done)
			n.l.Run(ctx)
		}()
		nodes[i] = n
		defer stop()
	}
	leaders := func() (lead []int) {
		for i, n := range nodes {
			if n.l.Leading() {
				lead = append(lead, i)
			}
		}
		return lead
	}
	sum := func(f func(*node) int32) (s int32) {
		for _, n := range nodes {
			s += f(n)
		}
		return s
	}
	running := func(n *node) int32 { return n.running.Load() }
	runs := func(n *node) int32 { return n.runs.Load() }
	terms := func(n *node) int32 { return int32(n.l.Stats().Terms) }
	waitWithin(t, 5*time.Second, "a leader running its jobs", func() bool {
		return len(leaders()) == 1 && sum(running) == 1 && sum(runs) == 1
	})
	if n := nodes[leaders()[0]]; n.running.Load() != 1 || n.runs.Load() != 1 {
		t.Fatalf("unexpected jobs: the leader runs %d loops, %d ticks; want the jobs on the leader only", n.running.Load(), n.runs.Load())
	}

	// The lock's session dies.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var killed int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'hepvault leader'
		  AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("unexpected sessions holding the lock; got %d (%v); want 1", killed, err)
	}
	start := time.Now()
	waitWithin(t, 10*time.Second, "a second term", func() bool { return sum(terms) == 2 && len(leaders()) == 1 })
	t.Logf("a new term began %.2f s after the leader's session died", time.Since(start).Seconds())
	waitWithin(t, 5*time.Second, "the jobs run again, once", func() bool { return sum(running) == 1 && sum(runs) == 2 })

	// The leader stops cleanly: the other takes over.
	lead := leaders()[0]
	nodes[lead].stop()
	<-nodes[lead].done
	other := nodes[1-lead]
	start = time.Now()
	waitWithin(t, 5*time.Second, "the other process to lead", func() bool { return other.l.Leading() && other.running.Load() == 1 })
	t.Logf("took over %.2f s after the leader stopped", time.Since(start).Seconds())
	if nodes[lead].running.Load() != 0 || nodes[lead].l.Leading() {
		t.Fatal("a job or leadership outlived Run")
	}
	other.stop()
	<-other.done
	var held int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid::bigint = $1`, 0x6865706c).Scan(&held); err != nil || held != 0 {
		t.Fatalf("unexpected advisory locks after Run returned; got %d (%v); want 0", held, err)
	}
}

func waitWithin(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
