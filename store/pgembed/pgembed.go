package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is a PostgreSQL server started by Start. Its methods are safe for
// concurrent use.
type Server struct {
	dataDir  string
	pgdata   string
	logPath  string
	database string
	port     int
	logger   *slog.Logger
	proc     *process

	stopMu  sync.Mutex
	stopped bool
	stopErr error
}

// errExited marks a server that exited while we waited for it to start.
var errExited = errors.New("postgres exited during start")

// Start runs PostgreSQL on cfg.DataDir, creating the cluster (initdb) and
// the database on first use and reusing them afterwards. It returns once
// the database accepts connections. Stop it with Stop; if we die first, the
// server gets a fast shutdown (Linux, see the package doc).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	t0 := time.Now()
	if cfg.DataDir == "" {
		return nil, errors.New("pgembed: Config.DataDir is empty")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: data dir: %w", err)
	}
	if cfg.Database == "" {
		cfg.Database = DefaultConfig().Database
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultConfig().StartTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("pgembed: port %d out of range", cfg.Port)
	}
	if cfg.Port != 0 {
		if err := checkPortFree(cfg.Port); err != nil {
			return nil, err
		}
	}
	who, err := pickUser()
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("pgembed: data dir %s not writable: %w", dataDir, err)
	}
	if ok, _ := exists(filepath.Join(dataDir, "PG_VERSION")); ok {
		return nil, fmt.Errorf("pgembed: %s is itself a PostgreSQL data directory; pgembed keeps its cluster in <DataDir>/pgdata, so set DataDir to a folder holding it as pgdata", dataDir)
	}
	pgdata := filepath.Join(dataDir, "pgdata")
	version, err := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	initialised := err == nil
	clusterMajor := strings.TrimSpace(string(version))

	binDir := cfg.BinDir
	if binDir == "" {
		if binDir, err = findBinDir(ctx, clusterMajor); err != nil {
			return nil, err
		}
	} else if err := checkBinDir(binDir); err != nil {
		return nil, fmt.Errorf("pgembed: Config.BinDir: %w", err)
	}
	binMajor, err := binVersion(ctx, binDir)
	if err != nil {
		return nil, err
	}
	if initialised && binMajor != clusterMajor {
		return nil, fmt.Errorf("pgembed: cluster %s was created by PostgreSQL %s but the binaries in %s are version %s; point $HEPVAULT_PG_BIN at PostgreSQL %s's bin directory (or upgrade the cluster with pg_upgrade)",
			pgdata, clusterMajor, binDir, binMajor, clusterMajor)
	}
	if err := who.checkReachable(dataDir); err != nil {
		return nil, err
	}

	if !initialised {
		cfg.Logger.Info("pgembed: creating cluster", "pgdata", pgdata, "bin_dir", binDir, "version", binMajor)
		if err := initCluster(ctx, binDir, pgdata, who, cfg.Ephemeral); err != nil {
			return nil, err
		}
	} else {
		if err := who.own(pgdata); err != nil {
			return nil, err
		}
		if err := checkPostmasterPID(pgdata, cfg.Logger); err != nil {
			return nil, err
		}
	}

	s := &Server{
		dataDir:  dataDir,
		pgdata:   pgdata,
		logPath:  filepath.Join(dataDir, "postgresql.log"),
		database: cfg.Database,
		logger:   cfg.Logger,
	}
	if err := s.launch(ctx, cfg, binDir, who); err != nil {
		return nil, err
	}
	if err := s.ensureDatabase(ctx); err != nil {
		s.Stop(context.Background())
		return nil, err
	}
	cfg.Logger.Info("pgembed: PostgreSQL started", "pgdata", pgdata, "port", s.port,
		"pid", s.proc.cmd.Process.Pid, "log_file", s.logPath, "duration_seconds", time.Since(t0).Seconds())
	return s, nil
}

// DSN returns the URL to connect to the database, e.g.
// postgres://hepvault@127.0.0.1:5432/hepvault?sslmode=disable.
func (s *Server) DSN() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + s.database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DataDir returns the absolute Config.DataDir; the cluster is in its
// pgdata subfolder.
func (s *Server) DataDir() string { return s.dataDir }

// Done is closed when the server process has exited, after Stop or on its
// own (a crash, or an administrator's kill).
func (s *Server) Done() <-chan struct{} { return s.proc.done }

// Stop shuts the server down with a fast shutdown (SIGINT: open
// transactions roll back, clients are disconnected, a checkpoint is
// written) and waits for it. If ctx ends first it falls back to an
// immediate shutdown (SIGQUIT: no checkpoint; the next start replays the
// WAL, committed data is kept) and returns ctx's error. Later calls wait
// for the first and return its result.
func (s *Server) Stop(ctx context.Context) error {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if !s.stopped {
		s.stopErr = s.stop(ctx)
		s.stopped = true
	}
	return s.stopErr
}

func (s *Server) stop(ctx context.Context) error {
	t0 := time.Now()
	select {
	case <-s.proc.done:
		return fmt.Errorf("pgembed: postgres had already exited (%v); see %s", s.proc.err, s.logPath)
	default:
	}
	s.proc.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.proc.done:
	case <-ctx.Done():
		s.proc.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.proc.done:
		case <-time.After(10 * time.Second):
			s.proc.cmd.Process.Kill()
			<-s.proc.done
		}
		return fmt.Errorf("pgembed: fast shutdown did not finish, sent SIGQUIT (immediate shutdown): %w", ctx.Err())
	}
	if s.proc.err != nil {
		return fmt.Errorf("pgembed: postgres stopped with %w; see %s", s.proc.err, s.logPath)
	}
	s.logger.Info("pgembed: PostgreSQL stopped", "pgdata", s.pgdata, "duration_seconds", time.Since(t0).Seconds())
	return nil
}

// initCluster runs initdb on an empty or missing pgdata.
func initCluster(ctx context.Context, binDir, pgdata string, who runAs, ephemeral bool) error {
	if err := os.Mkdir(pgdata, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("pgembed: data dir not writable: %w", err)
	}
	if err := who.own(pgdata); err != nil {
		return err
	}
	// Page checksums: a capture store lives long on disks that may rot.
	args := []string{"-D", pgdata, "-U", Superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--data-checksums"}
	if ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: who.credential()}
	cmd.Env = childEnv()
	cmd.Dir = pgdata
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgembed: initdb %s failed: %w; its output ends:\n%s", pgdata, err, tail(out, 2048))
	}
	return nil
}

// checkPostmasterPID looks at the lock file a previous server left. A dead
// pid is a killed run: postgres replaces the file itself. A live postgres on
// pgdata is an error. A live unrelated process means the pid was reused
// after a reboot or in a container: postgres would refuse to start, so the
// file goes.
func checkPostmasterPID(pgdata string, logger *slog.Logger) error {
	path := filepath.Join(pgdata, "postmaster.pid")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return nil // garbled: postgres judges it
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		logger.Info("pgembed: stale postmaster.pid from a run that did not stop", "pid", pid)
		return nil
	}
	if isPostmasterOf(pid, pgdata) {
		return fmt.Errorf("pgembed: %w: postgres pid %d serves %s; stop it (kill -INT %d) or wait for it to exit", ErrAlreadyRunning, pid, pgdata, pid)
	}
	logger.Warn("pgembed: removing postmaster.pid naming an unrelated live process", "pid", pid)
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	return nil
}

// launch starts postgres on cfg.Port, or on a free port when it is 0. A
// port we picked can be taken before postgres binds it, so then it tries a
// few ports.
func (s *Server) launch(ctx context.Context, cfg Config, binDir string, who runAs) error {
	for attempt := 1; ; attempt++ {
		port := cfg.Port
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
		}
		err := s.run(ctx, cfg, binDir, who, port)
		if err == nil {
			return nil
		}
		if cfg.Port == 0 && attempt < 3 && errors.Is(err, errExited) && checkPortFree(port) != nil {
			s.logger.Info("pgembed: port taken meanwhile, trying another", "port", port)
			continue
		}
		return err
	}
}

// run starts postgres on port and waits until it accepts connections.
func (s *Server) run(ctx context.Context, cfg Config, binDir string, who runAs, port int) error {
	logFile, offset, err := openLog(s.logPath)
	if err != nil {
		return fmt.Errorf("pgembed: data dir %s not writable: %w", s.dataDir, err)
	}
	settings := map[string]string{}
	if cfg.Ephemeral {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	maps.Copy(settings, cfg.Settings)
	if total := boundWAL(settings, s.dataDir); total > 0 {
		s.logger.Info("pgembed: small filesystem: WAL bounded to an eighth of it", "fs_bytes", total,
			"max_wal_size", settings["max_wal_size"], "min_wal_size", settings["min_wal_size"])
	}
	// TCP on loopback only; no unix socket, whose path is limited to ~107
	// bytes and would need a directory writable by the server.
	settings["listen_addresses"] = "127.0.0.1"
	settings["unix_socket_directories"] = ""
	settings["cluster_name"] = "hepvault"
	args := []string{"-D", s.pgdata, "-p", strconv.Itoa(port)}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if k == "" || strings.ContainsAny(k, "= ") {
			logFile.Close()
			return fmt.Errorf("pgembed: bad setting name %q", k)
		}
		args = append(args, "-c", k+"="+settings[k])
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.SysProcAttr = serverProcAttr(who.credential())
	cmd.Env = childEnv()
	cmd.Dir = s.pgdata
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	proc, err := startProcess(cmd)
	logFile.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("pgembed: start postgres: %w", err)
	}
	s.proc, s.port = proc, port
	if err := s.waitReady(ctx, cfg.StartTimeout); err != nil {
		select {
		case <-proc.done:
		default:
			cmd.Process.Signal(syscall.SIGQUIT)
			<-proc.done
		}
		return fmt.Errorf("%w; %s ends:\n%s", err, s.logPath, logTail(s.logPath, offset))
	}
	return nil
}

// waitReady polls with a real session until the server accepts it. While
// it reports "starting up" (crash recovery can take minutes) it keeps
// waiting; any other refusal is final.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	nextLog := time.Now().Add(10 * time.Second)
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := wireConnect(actx, addr, Superuser, "postgres")
		acancel()
		if err == nil {
			c.close()
			return nil
		}
		if pe := (*pgError)(nil); errors.As(err, &pe) && pe.Code != codeCannotConnectNow {
			return fmt.Errorf("pgembed: server on %s refused us: %w", addr, err)
		}
		if time.Now().After(nextLog) {
			s.logger.Info("pgembed: waiting for PostgreSQL to accept connections", "addr", addr, "last_error", err.Error())
			nextLog = time.Now().Add(10 * time.Second)
		}
		select {
		case <-s.proc.done:
			return fmt.Errorf("pgembed: %w (%v)", errExited, s.proc.err)
		case <-ctx.Done():
			return fmt.Errorf("pgembed: timed out after %v waiting for PostgreSQL on %s (last error: %v): %w", timeout, addr, err, ctx.Err())
		case <-tick.C:
		}
	}
}

// ensureDatabase creates the configured database when it is missing,
// connected to the "postgres" database initdb creates.
func (s *Server) ensureDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := wireConnect(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Superuser, "postgres")
	if err != nil {
		return fmt.Errorf("pgembed: connect to create database %q: %w", s.database, err)
	}
	defer c.close()
	n, err := c.exec("SELECT 1 FROM pg_database WHERE datname = " + quoteLiteral(s.database))
	if err != nil {
		return fmt.Errorf("pgembed: look up database %q: %w", s.database, err)
	}
	if n > 0 {
		return nil
	}
	_, err = c.exec("CREATE DATABASE " + quoteIdent(s.database))
	if pe := (*pgError)(nil); errors.As(err, &pe) && pe.Code == codeDuplicateDatabase {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: create database %q: %w", s.database, err)
	}
	s.logger.Info("pgembed: created database", "database", s.database)
	return nil
}

// process is a child whose exit is observed by one goroutine.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result; read it after done is closed
}

// startProcess starts cmd from a goroutine locked to its OS thread for the
// child's whole life: the kernel sends Pdeathsig when the thread that
// forked the child exits, and the Go runtime may retire threads, so an
// unlocked start could kill the server at random. The goroutine returns
// (and the locked thread exits) only after the child has exited.
func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgembed: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkPortFree fails with ErrPortInUse when port on 127.0.0.1 cannot be
// bound, which is what postgres would do.
func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("pgembed: %w: 127.0.0.1:%d (another PostgreSQL?); choose another port, or 0 for a free one: %w", ErrPortInUse, port, err)
	}
	l.Close()
	return nil
}

// maxLogSize is the size past which a start moves the log to
// postgresql.log.1; with default settings the log grows by little more
// than a checkpoint line every 15 minutes.
const maxLogSize = 16 << 20

// openLog opens the server log for appending and returns the offset where
// this run's lines start.
func openLog(path string) (*os.File, int64, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// logTail returns the end of what the server logged since offset.
func logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "(" + err.Error() + ")"
	}
	b, _ := io.ReadAll(f)
	return tail(b, 2048)
}

// tail returns about the last n bytes of b, starting at a line.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := slices.Index(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}

// Kill ends the server at once, as a crash or the kernel's OOM killer
// would: SIGKILL to postgres and every backend (its process group), no
// shutdown, no checkpoint. Clients see their connections drop. Start on the
// same DataDir recovers from the WAL (and Config.Port brings the server
// back where clients look for it). Tests use it to take the database away.
func (s *Server) Kill() error {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopped {
		return errors.New("pgembed: Kill after Stop")
	}
	select {
	case <-s.proc.done:
		return fmt.Errorf("pgembed: postgres had already exited (%v); see %s", s.proc.err, s.logPath)
	default:
	}
	// The server runs in its own process group (serverProcAttr): its pid
	// is the group's id.
	if err := syscall.Kill(-s.proc.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("pgembed: kill postgres: %w", err)
	}
	<-s.proc.done
	s.stopped, s.stopErr = true, errors.New("pgembed: server was killed")
	s.logger.Info("pgembed: PostgreSQL killed", "pgdata", s.pgdata)
	return nil
}
