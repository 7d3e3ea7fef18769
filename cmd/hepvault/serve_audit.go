package main

import (
	"context"
	"os"
	"time"

	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/store"
)

// defaultHeartbeat is how often serve writes its own record (a
// store.NodePeriod): the resolution at which coverage knows when hepvault
// ran and dropped.
const defaultHeartbeat = time.Minute

// maxPendingPeriods bounds the periods held in memory while the database
// is away: a week of minutes.
const maxPendingPeriods = 7 * 24 * 60

// defaultNodeName names this process in its record: the host's name and
// the HTTP address, so two collectors on one host are told apart.
func defaultNodeName(httpAddr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "hepvault"
	}
	return host + "/" + httpAddr
}

// nodeCounters are the counts a period's drops and spooling are the
// difference of.
type nodeCounters struct {
	drops      map[string]uint64
	spooled    uint64
	writeFails uint64
}

func (s *server) nodeCounters() nodeCounters {
	m := s.col.Metrics()
	ws := s.writer.Stats()
	c := nodeCounters{drops: map[string]uint64{}, spooled: ws.Spooled, writeFails: ws.WriteErrors[store.WriteUnavailable]}
	for _, r := range collector.Reasons() {
		c.drops[r.String()] = m.Dropped(r)
	}
	c.drops["spool_full"] = ws.SpoolDropped[store.SpoolFull]
	c.drops["spool_error"] = ws.SpoolDropped[store.SpoolFailed]
	c.drops["disk_full"] = ws.DiskFull
	c.drops["expired"] = ws.Expired
	c.drops["rejected"] = ws.Rejected
	if k, err := m.UDPKernelDrops(); err == nil {
		c.drops["udp_kernel"] = k
	}
	return c
}

// keepNodeRecord writes a period of this process's own record every
// s.cfg.Heartbeat: what it dropped, spooled, and whether the database
// answered. Periods the database cannot take are kept in memory and
// written once it answers; the last one is written on shutdown.
func (s *server) keepNodeRecord(ctx context.Context, started time.Time) {
	every := s.cfg.Heartbeat
	t := time.NewTicker(every)
	defer t.Stop()
	prev := s.nodeCounters()
	start := started
	var pending []store.NodePeriod
	dbDown := false
	record := func(now time.Time, wctx context.Context) {
		cur := s.nodeCounters()
		p := store.NodePeriod{Node: s.cfg.NodeName, Start: start, End: now, NextBy: now.Add(2 * every),
			Drops: map[string]uint64{}, Spooled: cur.spooled - prev.spooled}
		for r, n := range cur.drops {
			if d := n - prev.drops[r]; d > 0 {
				p.Drops[r] = d
			}
		}
		if s.spool != nil {
			p.SpoolBytes = s.spool.Bytes()
		}
		p.DBDown = dbDown || cur.writeFails > prev.writeFails || !s.db.Ready()
		if !p.DBDown {
			pctx, cancel := context.WithTimeout(wctx, 2*time.Second)
			p.DBDown = s.db.Ping(pctx) != nil
			cancel()
		}
		prev, start, dbDown = cur, now, false
		if len(pending) >= maxPendingPeriods {
			pending = pending[1:]
		}
		pending = append(pending, p)
		rctx, cancel := context.WithTimeout(wctx, 5*time.Second)
		defer cancel()
		if err := s.db.RecordNodePeriods(rctx, pending); err != nil {
			if wctx.Err() == nil {
				s.log.Debug("own record kept in memory until the database answers", "periods", len(pending), "err", err)
			}
			return
		}
		pending = pending[:0]
	}
	// An empty period at once: the node counts as running from its start,
	// not only once its first period is written.
	pending = append(pending, store.NodePeriod{Node: s.cfg.NodeName, Start: start, End: start, NextBy: start.Add(2 * every)})
	if s.db.Ready() {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if s.db.RecordNodePeriods(rctx, pending) == nil {
			pending = pending[:0]
		}
		cancel()
	}
	probe := time.NewTicker(max(every/4, 100*time.Millisecond))
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			record(time.Now(), fctx)
			cancel()
			return
		case <-probe.C:
			// An outage shorter than a period is seen by the writer's
			// failures; this catches one while nothing is written.
			if !dbDown && s.db.Ready() {
				pctx, cancel := context.WithTimeout(ctx, time.Second)
				dbDown = s.db.Ping(pctx) != nil && ctx.Err() == nil
				cancel()
			}
		case now := <-t.C:
			record(now, ctx)
		}
	}
}
