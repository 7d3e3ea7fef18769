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
// database, one runs the jobs; when its session dies (the backend
// terminated, as when the process or its host dies), its jobs stop and the
// other leads within seconds.
func TestLeader_OneLeadsAndAnotherTakesOver(t *testing.T) {
	db, dsn := openDSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := store.DefaultLeaderConfig()
	cfg.RetryEvery, cfg.CheckEvery = 200*time.Millisecond, 200*time.Millisecond
	type node struct {
		l       *store.Leader
		running atomic.Int32 // jobs running now
		runs    atomic.Int32 // Every runs
		done    chan struct{}
	}
	nodes := make([]*node, 2)
	for i := range nodes {
		n := &node{l: store.NewLeader(db, cfg), done: make(chan struct{})}
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
	}
	leaders := func() (lead []int) {
		for i, n := range nodes {
			if n.l.Leading() {
				lead = append(lead, i)
			}
		}
		return lead
	}
	waitWithin(t, 5*time.Second, "a leader", func() bool { return len(leaders()) == 1 })
	first := nodes[leaders()[0]]
	other := nodes[1-leaders()[0]]
	waitWithin(t, 5*time.Second, "the leader's jobs to start", func() bool { return first.running.Load() == 1 && first.runs.Load() == 1 })
	if other.running.Load() != 0 || other.runs.Load() != 0 {
		t.Fatalf("unexpected jobs on the process that does not lead; got %d loops, %d runs; want none", other.running.Load(), other.runs.Load())
	}

	// The lock's session dies.
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
	waitWithin(t, 10*time.Second, "the other process to lead", func() bool { return other.l.Leading() })
	t.Logf("took over %.2f s after the leader's session died", time.Since(start).Seconds())
	waitWithin(t, 5*time.Second, "the deposed leader's jobs to stop", func() bool { return first.running.Load() == 0 })
	waitWithin(t, 5*time.Second, "the new leader's jobs to start", func() bool { return other.running.Load() == 1 && other.runs.Load() == 1 })
	if got := leaders(); len(got) != 1 {
		t.Fatalf("unexpected leaders; got %v; want one", got)
	}
	if st := other.l.Stats(); st.Terms != 1 || st.Since.Before(start) {
		t.Fatalf("unexpected stats of the new leader: %+v", st)
	}

	// Run returns with the jobs stopped and the lock released.
	cancel()
	for _, n := range nodes {
		<-n.done
	}
	if len(leaders()) != 0 || nodes[0].running.Load()+nodes[1].running.Load() != 0 {
		t.Fatal("a job or leadership outlived Run")
	}
	var held int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid::bigint = $1`, 0x6865706c).Scan(&held); err != nil || held != 0 {
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
