package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hepvault/hepvault/internal/loadgen"
)

// result is one run at one offered rate.
type result struct {
	Label     string  `json:"label,omitempty"`
	Transport string  `json:"transport"`
	Rate      int     `json:"rate"`
	Duration  float64 `json:"duration_s"`
	RunID     string  `json:"run_id"`
	CaptureID uint32  `json:"capture_id"`

	Offered   uint64  `json:"offered"`
	Sent      uint64  `json:"sent"`
	SendErrs  uint64  `json:"send_errors"`
	Behind    uint64  `json:"sender_max_backlog"`
	Stored    uint64  `json:"stored"`
	MeanBytes float64 `json:"mean_hep_bytes"`
	KernelUDP *uint64 `json:"kernel_udp_drops,omitempty"`
	Drops     []loadgen.Change

	CPU     *float64 `json:"collector_cpu_s,omitempty"`
	PeakRSS *uint64  `json:"collector_peak_rss_bytes,omitempty"`
	PgCPU   *float64 `json:"postgres_cpu_s,omitempty"`
	Wall    float64  `json:"wall_s"` // from the first send to the last store
	// Drain is how long after the last send the last packet was stored:
	// the backlog the collector held in memory when the traffic stopped.
	Drain     float64  `json:"drain_s"`
	CatchUp   float64  `json:"catch_up_s"`
	LoadStart string   `json:"load_start"`
	LoadEnd   string   `json:"load_end"`
	Notes     []string `json:"notes,omitempty"`
}

// held says the run stored every packet it offered, and kept up: a
// collector that buffers what it cannot write yet would otherwise "hold"
// any rate for as long as its memory lasts.
func (r *result) held() bool {
	return r.Sent == r.Offered && r.Stored == r.Offered && r.Drain <= r.CatchUp
}

func newRunID() (string, uint32) {
	var b [4]byte
	rand.Read(b[:])
	// Call-IDs start with it: letters first so no one mistakes it for a number.
	return "hb" + hex.EncodeToString(b[:]), binary.BigEndian.Uint32(b[:]) | 1<<31
}

// measure offers rate for the configured duration and reads back the outcome.
func measure(ctx context.Context, cfg config, rate int) (*result, error) {
	runID, captureID := newRunID()
	r := &result{Label: cfg.Label, Transport: cfg.Transport, Rate: rate, Duration: cfg.Duration.Seconds(),
		RunID: runID, CaptureID: captureID, LoadStart: loadavg(), CatchUp: cfg.CatchUp.Seconds()}
	note := func(format string, args ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, args...)) }

	var before loadgen.Samples
	if cfg.Metrics != "" {
		var err error
		if before, err = loadgen.ScrapeMetrics(ctx, cfg.Metrics); err != nil {
			note("no counters before the run: %v", err)
		}
	}
	var udpBefore uint64
	udpOK := false
	if cfg.UDPPort != 0 {
		var err error
		udpBefore, err = loadgen.UDPDrops(cfg.UDPPort)
		udpOK = err == nil
	}
	var cpu0, pgcpu0 float64
	if cfg.Pid != 0 {
		if err := loadgen.ResetPeakRSS(cfg.Pid); err != nil {
			note("peak RSS is since the collector started (could not reset it: %v)", err)
		}
		var err error
		if cpu0, err = loadgen.ProcCPU(cfg.Pid); err != nil {
			return nil, err
		}
	}
	if cfg.PgPid != 0 {
		var err error
		if pgcpu0, err = loadgen.ProcTreeCPU(cfg.PgPid); err != nil {
			return nil, err
		}
	}

	start := time.Now()
	sent, err := loadgen.Send(ctx, loadgen.SendConfig{
		Addr: cfg.Addr, Transport: cfg.Transport, Conns: cfg.Conns, Rate: rate, Duration: cfg.Duration,
		Gen: loadgen.Config{RunID: runID, CaptureID: captureID, Seed: cfg.Seed + uint64(rate)},
	})
	if err != nil {
		return nil, err
	}
	sendEnd := time.Now()
	r.Offered, r.Sent, r.SendErrs, r.Behind = sent.Offered, sent.Sent, sent.Errors, sent.Behind
	if sent.Sent > 0 {
		r.MeanBytes = float64(sent.Bytes) / float64(sent.Sent)
	}
	if sent.LastErr != nil {
		note("last send error: %v", sent.LastErr)
	}
	if sent.Sent < sent.Offered {
		note("the generator sent %d of %d in time: the collector pushed back (TCP) or this machine was too busy", sent.Sent, sent.Offered)
	}

	var counter loadgen.Counter
	if cfg.DB != "" {
		counter = loadgen.DBCounter{DSN: cfg.DB, Schema: cfg.Schema, Since: start, RunID: runID}
	} else {
		counter = loadgen.APICounter{BaseURL: cfg.API, Since: start, CaptureID: captureID}
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.MaxWait)
	r.Stored, err = loadgen.WaitStored(wctx, counter, sent.Sent, cfg.Quiet)
	cancel()
	if err != nil && r.Stored == 0 {
		return nil, err
	}
	if err != nil {
		note("stopped counting: %v", err)
	}
	r.Wall = time.Since(start).Seconds()
	// WaitStored returns at the first count that reached Sent, or after
	// the count stood still for cfg.Quiet: then the last store was earlier.
	lastStore := time.Now()
	if r.Stored < sent.Sent {
		lastStore = lastStore.Add(-cfg.Quiet)
	}
	r.Drain = max(0, lastStore.Sub(sendEnd).Seconds())
	r.LoadEnd = loadavg()

	if udpOK {
		if after, err := loadgen.UDPDrops(cfg.UDPPort); err == nil {
			d := after - udpBefore
			r.KernelUDP = &d
		}
	}
	if before != nil {
		if after, err := loadgen.ScrapeMetrics(ctx, cfg.Metrics); err == nil {
			r.Drops = loadgen.Delta(before, after, "drop", "reject", "error", "stored_total", "queued_total", "spooled_total", "replayed_total")
		} else {
			note("no counters after the run: %v", err)
		}
	}
	if cfg.Pid != 0 {
		if c, err := loadgen.ProcCPU(cfg.Pid); err == nil {
			d := c - cpu0
			r.CPU = &d
		}
		if m, err := loadgen.ProcPeakRSS(cfg.Pid); err == nil {
			r.PeakRSS = &m
		}
	}
	if cfg.PgPid != 0 {
		if c, err := loadgen.ProcTreeCPU(cfg.PgPid); err == nil {
			d := c - pgcpu0
			r.PgCPU = &d
		}
	}
	if cfg.JSONLine {
		defer func() { b, _ := json.Marshal(r); fmt.Fprintf(os.Stdout, "%s\n", b) }()
	}
	return r, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (r *result) print(w io.Writer) {
	verdict := "HELD (0 loss)"
	switch {
	case r.Stored == r.Offered && r.Sent == r.Offered && !r.held():
		verdict = fmt.Sprintf("FELL BEHIND (all stored, but %.1f s after the last send; allowed %.0f s)", r.Drain, r.CatchUp)
	case !r.held():
		verdict = fmt.Sprintf("LOST %d (%.3f%%)", r.Offered-min(r.Offered, r.Stored), 100*float64(r.Offered-min(r.Offered, r.Stored))/float64(max(r.Offered, 1)))
	}
	label := r.Label
	if label != "" {
		label += " "
	}
	fmt.Fprintf(w, "%s%s %d/s for %gs: %s\n", label, r.Transport, r.Rate, r.Duration, verdict)
	fmt.Fprintf(w, "  offered %d  sent %d  stored %d  send errors %d  sender backlog max %d  mean HEP packet %.0f B  last store %.1f s after the last send\n",
		r.Offered, r.Sent, r.Stored, r.SendErrs, r.Behind, r.MeanBytes, r.Drain)
	if r.KernelUDP != nil {
		fmt.Fprintf(w, "  kernel UDP receive-buffer drops on the port: %d\n", *r.KernelUDP)
	}
	for _, d := range r.Drops {
		fmt.Fprintf(w, "  counter %s +%g\n", d.Series, d.By)
	}
	if r.CPU != nil {
		fmt.Fprintf(w, "  collector CPU %.2f s (%.2f cores over %.1f s; %.1f µs per stored packet)", *r.CPU, *r.CPU/r.Wall, r.Wall, perPacket(*r.CPU, r.Stored))
		if r.PeakRSS != nil {
			fmt.Fprintf(w, "  peak RSS %.1f MiB", float64(*r.PeakRSS)/(1<<20))
		}
		fmt.Fprintln(w)
	}
	if r.PgCPU != nil {
		fmt.Fprintf(w, "  PostgreSQL CPU %.2f s (%.1f µs per stored packet)\n", *r.PgCPU, perPacket(*r.PgCPU, r.Stored))
	}
	fmt.Fprintf(w, "  load average at start %s, at end %s; run id %s, capture id %d\n", r.LoadStart, r.LoadEnd, r.RunID, r.CaptureID)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func perPacket(sec float64, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return sec / float64(n) * 1e6
}
