package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hepvault/hepvault/internal/loadgen"
)

type config struct {
	Addr      string
	Transport string
	Conns     int
	Rate      int
	Duration  time.Duration

	DB       string // count stored rows here; empty: through the API
	Schema   string
	API      string // hepvault's HTTP API, for counting without --db
	Metrics  string // a Prometheus page to take drop counters from; "-" for none
	Pid      int    // the collector's process, for CPU and peak RSS
	PgPid    int    // the postmaster, for PostgreSQL's CPU
	Quiet    time.Duration
	CatchUp  time.Duration
	MaxWait  time.Duration
	FindMax  bool
	MaxRate  int
	Step     float64
	Resol    int
	Pause    time.Duration
	Label    string
	Seed     uint64
	UDPPort  int // derived from Addr, for the kernel's drop counter
	JSONLine bool
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("hepbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:9060", "the collector's HEP address")
	fs.StringVar(&c.Transport, "transport", "udp", "udp or tcp")
	fs.IntVar(&c.Conns, "conns", 4, "UDP sockets or TCP connections, sending in parallel")
	fs.IntVar(&c.Rate, "rate", 10000, "offered packets per second (the starting rate with --find-max)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "how long each run offers traffic")
	fs.StringVar(&c.DB, "db", "", "PostgreSQL DSN of the collector's database: count stored rows there")
	fs.StringVar(&c.Schema, "schema", loadgen.SchemaHepvault, "layout of --db: hepvault, or homer7 for heplify-server")
	fs.StringVar(&c.API, "api", "http://127.0.0.1:9080", "hepvault's HTTP API: stored count without --db, and /metrics")
	fs.StringVar(&c.Metrics, "metrics", "", "Prometheus page with the collector's counters (default: --api + /metrics; - for none)")
	fs.IntVar(&c.Pid, "pid", 0, "the collector's process id: CPU seconds and peak RSS")
	fs.IntVar(&c.PgPid, "pg-pid", 0, "the postmaster's process id: PostgreSQL's CPU seconds (it and its children)")
	fs.DurationVar(&c.Quiet, "settle", 5*time.Second, "after sending, stop waiting for stores once the count has not moved for this long")
	fs.DurationVar(&c.CatchUp, "catch-up", 10*time.Second, "a run holds only if its last packet is stored within this long after the last send")
	fs.DurationVar(&c.MaxWait, "max-wait", 2*time.Minute, "after sending, wait at most this long for stores")
	fs.BoolVar(&c.FindMax, "find-max", false, "step the rate up from --rate, then bisect, to the highest rate stored with no loss")
	fs.IntVar(&c.MaxRate, "max-rate", 200000, "--find-max: never offer more than this")
	fs.Float64Var(&c.Step, "step", 1.5, "--find-max: factor between rates while none has failed")
	fs.IntVar(&c.Resol, "resolution", 0, "--find-max: stop bisecting when the bracket is this narrow (default 5% of the rate)")
	fs.DurationVar(&c.Pause, "pause", 5*time.Second, "--find-max: rest between runs")
	fs.StringVar(&c.Label, "label", "", "name printed with each result (e.g. hepvault, heplify-server)")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed of the traffic (0: from the clock)")
	fs.BoolVar(&c.JSONLine, "json", false, "also print each result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.Transport != "udp" && c.Transport != "tcp" {
		return c, fmt.Errorf("--transport must be udp or tcp, not %q", c.Transport)
	}
	if c.Rate <= 0 || c.Duration <= 0 || c.Conns <= 0 {
		return c, errors.New("--rate, --duration and --conns must be positive")
	}
	if c.Metrics == "" {
		c.Metrics = c.API + "/metrics"
	}
	if c.Metrics == "-" {
		c.Metrics = ""
	}
	if c.Step <= 1 {
		return c, errors.New("--step must be more than 1")
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Transport == "udp" {
		var port int
		if _, err := fmt.Sscanf(c.Addr[lastColon(c.Addr)+1:], "%d", &port); err != nil {
			return c, fmt.Errorf("--addr %q: no port", c.Addr)
		}
		c.UDPPort = port
	}
	return c, nil
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}
