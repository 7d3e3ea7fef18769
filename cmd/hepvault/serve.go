package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/pgembed"
	"github.com/hepvault/hepvault/store/spool"
)

type serveConfig struct {
	DB       string
	DataDir  string
	HEPUDP   string
	HEPTCP   string
	HTTP     string
	LogLevel string
	// LogFormat is "text" or "json".
	LogFormat string
	// HEPAuthKey, when set, is the HEP auth key a packet must carry to be stored.
	HEPAuthKey string
	// CorrelationHeaders correlate the legs of a call beside X-CID and
	// X-Call-ID (--correlation-header).
	CorrelationHeaders []sip.CorrelationHeader
	// ShutdownTimeout bounds the final flush on exit.
	ShutdownTimeout time.Duration
	Guard           guardConfig
	// SpoolDir holds batches the database cannot take (default DataDir/spool);
	// SpoolMaxBytes caps it, 0 turns it off (spool.go).
	SpoolDir      string
	SpoolMaxBytes int64
	// Retention: how long packets are kept and how much disk stays free
	// (retention.go).
	Retention retentionConfig
	// StatsRetention is how long statistics are kept (serve_stats.go).
	StatsRetention time.Duration
	// Cluster: a read replica, an archive database (cluster.go).
	Cluster clusterConfig
	// TLS is HEP over TLS (serve_tls.go).
	TLS tlsConfig
	// Seal says when days are sealed and with which key (seal.go).
	Seal sealConfig
	// NodeName names this process in its own record (serve_audit.go);
	// empty: the host's name and the HTTP address.
	NodeName string
	// Heartbeat is how often that record is written (default a minute).
	Heartbeat time.Duration
	// QueueSize, when above 0, is the collector's queue (tests shrink it).
	QueueSize int
}

func runServe(ctx context.Context, args []string, getenv env, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.DB, "db", getenv("HEPVAULT_DB"), "PostgreSQL DSN (env HEPVAULT_DB); empty: run an embedded PostgreSQL in --data-dir")
	fs.StringVar(&cfg.DataDir, "data-dir", envDefault(getenv, "HEPVAULT_DATA_DIR", "./hepvault-data"), "data folder of the embedded PostgreSQL (env HEPVAULT_DATA_DIR)")
	fs.StringVar(&cfg.HEPUDP, "hep-udp", envDefault(getenv, "HEPVAULT_HEP_UDP", ":9060"), "UDP address for HEP; empty disables (env HEPVAULT_HEP_UDP)")
	fs.StringVar(&cfg.HEPTCP, "hep-tcp", envDefault(getenv, "HEPVAULT_HEP_TCP", ":9060"), "TCP address for HEP; empty disables (env HEPVAULT_HEP_TCP)")
	addTLSFlags(fs, getenv, &cfg.TLS)
	fs.StringVar(&cfg.HEPAuthKey, "hep-auth-key", getenv("HEPVAULT_HEP_AUTH_KEY"), "store only HEPv3 packets carrying this auth key (Kamailio siptrace auth_key); others are dropped and counted (env HEPVAULT_HEP_AUTH_KEY, better than the flag: ps shows flags)")
	corr := correlationFlag{&cfg.CorrelationHeaders}
	if v := getenv("HEPVAULT_CORRELATION_HEADER"); v != "" {
		if err := corr.Set(v); err != nil {
			return usagef("HEPVAULT_CORRELATION_HEADER: %v", err)
		}
	}
	fs.Var(corr, "correlation-header", "a header whose value links the legs of a call, beside X-CID and X-Call-ID: NAME or NAME;param "+
		"(P-Charging-Vector;icid-value); repeat it or give a comma-separated list (env HEPVAULT_CORRELATION_HEADER)")
	fs.StringVar(&cfg.HTTP, "http", envDefault(getenv, "HEPVAULT_HTTP", "127.0.0.1:9080"), "address of the HTTP API (env HEPVAULT_HTTP)")
	fs.StringVar(&cfg.LogLevel, "log-level", envDefault(getenv, "HEPVAULT_LOG_LEVEL", "info"), "debug, info, warn or error (env HEPVAULT_LOG_LEVEL)")
	addLogFormatFlag(fs, getenv, &cfg.LogFormat)
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long the final flush may take on exit")
	addGuardFlags(fs, getenv, &cfg.Guard)
	fs.StringVar(&cfg.SpoolDir, "spool-dir", getenv("HEPVAULT_SPOOL_DIR"), "folder for batches the database cannot take (env HEPVAULT_SPOOL_DIR; default <data-dir>/spool)")
	cfg.SpoolMaxBytes = defaultSpoolMaxBytes
	if err := (bytesFlag{&cfg.SpoolMaxBytes}).Set(envDefault(getenv, "HEPVAULT_SPOOL_MAX_BYTES", "4G")); err != nil {
		return fmt.Errorf("HEPVAULT_SPOOL_MAX_BYTES: %w", err)
	}
	addRetentionFlags(fs, getenv, &cfg.Retention)
	addSealFlags(fs, getenv, &cfg.Seal)
	fs.Var(bytesFlag{&cfg.SpoolMaxBytes}, "spool-max-bytes", "cap of the spool, e.g. 512M; past it batches are dropped and counted; 0 turns the spool off (env HEPVAULT_SPOOL_MAX_BYTES)")
	addClusterFlags(fs, getenv, &cfg.Cluster)
	fs.StringVar(&cfg.NodeName, "node-name", getenv("HEPVAULT_NODE_NAME"),
		"this process's name in its own record, which coverage reads (env HEPVAULT_NODE_NAME; default host/http-address)")
	statsRetention := fs.String("stats-retention", envDefault(getenv, "HEPVAULT_STATS_RETENTION", defaultStatsRetention),
		"how long per-minute statistics are kept, e.g. 2y, 400d, 720h (env HEPVAULT_STATS_RETENTION)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	retention, err := parseStatsRetention(*statsRetention)
	if err != nil {
		return usagef("--stats-retention: %v", err)
	}
	cfg.StatsRetention = retention
	if err := cfg.TLS.check(); err != nil {
		return err
	}
	if err := cfg.Guard.apply(&collector.Config{}, &api.AccessConfig{}); err != nil {
		return err
	}
	if cfg.Retention.envErr != nil {
		return usageError{cfg.Retention.envErr}
	}
	if err := cfg.Cluster.check(cfg.Retention.Horizon); err != nil {
		return err
	}
	if _, err := cfg.Seal.storeConfig(); err != nil {
		return err
	}
	if cfg.Seal.After <= 0 {
		return usagef("--seal-after must be positive, e.g. 1h or 10m")
	}
	tuneGC(getenv)
	log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	hup, stopHup := notifyHangup()
	defer stopHup()
	s, err := startServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	for {
		select {
		case <-hup:
			s.reloadTLS()
			continue
		case <-ctx.Done():
			log.Info("shutting down: stopping listeners and flushing")
		case err := <-s.failed:
			log.Error("stopping after a fatal error", "err", err)
			s.shutdown()
			return err
		}
		return s.shutdown()
	}
}

// server is a running hepvault: embedded PostgreSQL (optional), store,
// collector, writer and HTTP API.
type server struct {
	cfg    serveConfig
	log    *slog.Logger
	pg     *pgembed.Server
	db     *store.DB
	spool  *spool.Spool
	col    *collector.Collector
	tls    *collector.TLSCerts // nil: no HEP over TLS
	writer *store.Writer
	// retention drops days past the horizon and guards the disk.
	retention *store.Retention
	// leader runs the store-wide jobs while this process leads.
	leader *store.Leader
	// readDB, with --db-read, is the replica the API reads from.
	readDB *store.DB
	// archiver, with --archive-db, moves old days to the archive.
	archiver *store.Archiver
	http     *http.Server
	httpLn   net.Listener

	writerDone chan error
	cancelBg   context.CancelFunc
	awaitDone  chan struct{} // awaitDatabase ended; nil when not started (dbwait.go)
	retainDone chan struct{} // retention's loop ended; nil when not started
	auditDone  chan struct{} // the node record and the access log are written
	access     *store.AccessLogger
	leaderDone chan struct{} // the leader election and its jobs ended; nil when not started
	readDone   chan struct{} // awaitReadDatabase ended; nil when not started
	failed     chan error
}

// startServer brings everything up in order; on error it tears down what
// it started and says which part failed.
func startServer(ctx context.Context, cfg serveConfig, log *slog.Logger) (_ *server, err error) {
	s := &server{cfg: cfg, log: log, failed: make(chan error, 2)}
	defer func() {
		if err != nil {
			s.closeStorage()
		}
	}()
	// A certificate that does not load stops hepvault before the database
	// (perhaps an embedded one to start) is touched.
	if s.tls, err = cfg.TLS.load(); err != nil {
		return nil, err
	}
	sealCfg, err := cfg.Seal.storeConfig()
	if err != nil {
		return nil, err
	}
	var dbPending bool
	if dbPending, err = s.openDatabase(ctx); err != nil {
		return nil, err
	}
	var readPending bool
	if readPending, err = s.openReadDatabase(ctx); err != nil {
		return nil, err
	}

	if s.httpLn, err = net.Listen("tcp", cfg.HTTP); err != nil {
		return nil, fmt.Errorf("HTTP API on %s: %w", cfg.HTTP, err)
	}
	ccfg := collector.DefaultConfig()
	ccfg.UDPAddr, ccfg.TCPAddr, ccfg.Logger = cfg.HEPUDP, cfg.HEPTCP, log
	acfg := api.DefaultAccessConfig()
	if err = cfg.Guard.apply(&ccfg, &acfg); err != nil {
		s.httpLn.Close()
		return nil, err
	}
	ccfg.AuthKey = []byte(cfg.HEPAuthKey)
	if cfg.QueueSize > 0 {
		ccfg.QueueSize = cfg.QueueSize
	}
	ccfg.TLSAddr, ccfg.TLS = cfg.TLS.Addr, s.tls
	ccfg.CorrelationHeaders = cfg.CorrelationHeaders
	s.col = collector.New(ccfg)
	if err = s.col.Start(ctx); err != nil {
		s.httpLn.Close()
		return nil, err
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancelBg = cancel
	if s.spool, err = openSpool(cfg, log); err != nil {
		return nil, err
	}
	// The guard measures the embedded cluster's filesystem; with --db, what
	// the database and the spool take against --max-db-size.
	pgDir, spoolBytes := "", func() int64 { return 0 }
	if cfg.DB == "" {
		pgDir = cfg.DataDir
	}
	if s.spool != nil {
		spoolBytes = s.spool.Bytes
	}
	s.retention = store.NewRetention(s.db, cfg.Retention.storeConfig(pgDir, spoolBytes))
	writes := newWriteMetrics()
	wcfg := store.DefaultWriterConfig()
	wcfg.Spool, wcfg.Retention, wcfg.OnWrite = s.spool, s.retention, writes.observe
	s.writer = store.NewWriter(s.db, wcfg)
	s.writerDone = make(chan error, 1)
	go func() { s.writerDone <- s.writer.Run(bg, s.col.Packets()) }()
	if s.cfg.StatsRetention <= 0 { // a serveConfig not built from flags
		s.cfg.StatsRetention, _ = parseStatsRetention(defaultStatsRetention)
	}
	// The work on the store as a whole runs on one process of those that
	// share the database, the leader (store/leader.go): a job is one line.
	s.leader = store.NewLeader(s.db, store.LeaderConfig{Logger: log})
	s.leader.Every("partitions", time.Hour, s.db.EnsurePartitions)
	s.leader.Go("retention", s.retention.Run)
	s.leader.Go("statistics", s.keepStats)
	s.leader.Go("seals", func(ctx context.Context) { s.keepSeals(ctx, sealCfg) })
	if err = s.startArchiver(); err != nil {
		return nil, err
	}
	s.leaderDone = make(chan struct{})
	go func() {
		defer close(s.leaderDone)
		s.leader.Run(bg)
	}()
	if readPending {
		s.readDone = make(chan struct{})
		go func() {
			defer close(s.readDone)
			s.awaitReadDatabase(bg)
		}()
	}
	if s.cfg.NodeName == "" {
		s.cfg.NodeName = defaultNodeName(s.httpLn.Addr().String())
	}
	if s.cfg.Heartbeat <= 0 {
		s.cfg.Heartbeat = defaultHeartbeat
	}
	s.access = store.NewAccessLogger(s.db, log, 4096)
	s.auditDone = make(chan struct{})
	started := time.Now()
	go func() {
		defer close(s.auditDone)
		done := make(chan struct{})
		go func() { defer close(done); s.access.Run(bg) }()
		s.keepNodeRecord(bg, started)
		<-done
	}()
	if dbPending {
		s.awaitDone = make(chan struct{})
		go func() {
			defer close(s.awaitDone)
			s.awaitDatabase(bg)
		}()
	}

	reg := newMetricsRegistry(metricSources{
		col: s.col, writer: s.writer, spool: s.spool, spoolMaxBytes: cfg.SpoolMaxBytes, writes: writes,
		retention: s.retention, tls: s.tls, leader: s.leader, archiver: s.archiver, readDB: s.readDB, access: s.access,
	})
	handler := api.New(s.readStore(), metricsHandler(reg, log), log)
	if s.readDB != nil {
		handler.SetReplica(s.readDB, cfg.Cluster.MaxReplicaLag)
	}
	// Holds and the access log are written: the primary, never a replica.
	handler.SetAudit(s.db)
	handler.SetAccessLog(s.access)
	handler.SetAccess(acfg)
	handler.SetGuard(guardState{s.retention})
	if s.spool != nil {
		handler.SetSpool(s.spool)
	}
	s.http = &http.Server{
		Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("HTTP API: %w", err)
		}
	}()
	log.Info("hepvault is running", "http", s.httpLn.Addr().String(), "hep_udp", addrString(s.col.UDPAddr()), "hep_tcp", addrString(s.col.TCPAddr()),
		"hep_tls", addrString(s.col.TLSAddr()), "hep_auth_key_required", cfg.HEPAuthKey != "")
	return s, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}

// shutdown stops reading, flushes what was received, then stops the rest.
func (s *server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	s.col.Stop() // closes the queue once the listeners are done
	var err error
	select {
	case err = <-s.writerDone:
	case <-ctx.Done():
		s.cancelBg() // the writer gives up its retries (and spools the rest)
		err = <-s.writerDone
		if s.spool == nil || err != nil {
			err = fmt.Errorf("final flush did not finish in %s; %d packets not written: %w", s.cfg.ShutdownTimeout, s.col.QueueLen(), err)
		} else {
			s.log.Warn("final flush to the database did not finish in time; the rest is in the spool for the next start",
				"timeout_s", s.cfg.ShutdownTimeout.Seconds(), "spool_dir", s.spool.Dir())
		}
	}
	s.cancelBg()
	if s.awaitDone != nil {
		<-s.awaitDone // before the pool closes under it
	}
	if s.leaderDone != nil {
		<-s.leaderDone
	}
	if s.readDone != nil {
		<-s.readDone
	}
	if s.auditDone != nil {
		<-s.auditDone
	}
	m := s.col.Metrics()
	ws := s.writer.Stats()
	s.log.Info("stopped", "received", m.UDPDatagrams.Load()+m.TCPFrames.Load()+m.TLSFrames(), "stored", ws.Stored, "queued", m.Queued.Load(),
		"dropped", m.DroppedTotal(), "rejected_by_db", ws.Rejected, "spooled", ws.Spooled, "replayed", ws.Replayed,
		"spool_dropped", ws.SpoolDropped[store.SpoolFull]+ws.SpoolDropped[store.SpoolFailed],
		"expired", ws.Expired, "disk_full", ws.DiskFull)
	s.closeStorage()
	return err
}

func (s *server) closeStorage() {
	if s.spool != nil {
		if err := s.spool.Close(); err != nil {
			s.log.Warn("spool did not close cleanly", "err", err)
		}
	}
	if s.readDB != nil {
		s.readDB.Close()
	}
	if s.archiver != nil {
		s.archiver.Close()
	}
	closeStorage(s.db, s.pg, s.log)
}

// tuneGC lets the heap grow to five times what is live before collecting,
// within a soft limit, unless GOGC or GOMEMLIMIT say otherwise. What the
// collector allocates is packets that live until their batch is written, so
// a collection finds little garbage to free under the default GOGC=100: at
// 60,000 packets/s over TCP, GOGC=400 took ~1.3 µs of CPU off each packet
// (BENCHMARKS.md). The live heap is bounded by the queue (QueueSize packets)
// and the batches in flight; the limit keeps a larger one from growing five
// times.
func tuneGC(getenv env) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(768 << 20)
	}
}

// correlationFlag reads --correlation-header: NAME or NAME;param, repeated
// or as a comma-separated list.
type correlationFlag struct{ hs *[]sip.CorrelationHeader }

func (f correlationFlag) String() string {
	if f.hs == nil {
		return ""
	}
	var names []string
	for _, h := range *f.hs {
		names = append(names, h.String())
	}
	return strings.Join(names, ",")
}

func (f correlationFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		h, err := sip.ParseCorrelationHeader(s)
		if err != nil {
			return err
		}
		*f.hs = append(*f.hs, h)
	}
	return nil
}
