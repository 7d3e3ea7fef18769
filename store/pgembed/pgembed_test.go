package pgembed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newDataDir returns a fresh directory the postgres user can reach when we
// run as root: go test's temp dirs are 0700.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "data")
}

// mustStart starts a server and stops it when the test ends.
func mustStart(t *testing.T, cfg Config) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("unexpected error from Start: %v", err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// psql runs sql through the DSN, as a client from outside would.
func psql(t *testing.T, dsn, sql string) string {
	t.Helper()
	bin, err := FindBinDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestStart_RestartKeepsData(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = newDataDir(t)

	s := mustStart(t, cfg)
	want := "postgres://hepvault@127.0.0.1:" + strconv.Itoa(s.Port()) + "/hepvault?sslmode=disable"
	if s.DSN() != want {
		t.Fatalf("unexpected DSN; got %q; want %q", s.DSN(), want)
	}
	psql(t, s.DSN(), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("unexpected error from Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("unexpected error from a second Stop: %v", err)
	}

	s = mustStart(t, cfg)
	if got := psql(t, s.DSN(), "SELECT x FROM kept"); got != "42" {
		t.Fatalf("unexpected row after restart; got %q; want 42", got)
	}
	if got := psql(t, s.DSN(), "SHOW listen_addresses"); got != "127.0.0.1" {
		t.Fatalf("unexpected listen_addresses; got %q", got)
	}
}

func TestStart_Failure(t *testing.T) {
	f := func(name string, cfg Config, wantErr error, wantText string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			s, err := Start(context.Background(), cfg)
			if err == nil {
				s.Stop(context.Background())
				t.Fatalf("unexpected success; want %v", wantErr)
			}
			if wantErr != nil && !errors.Is(err, wantErr) {
				t.Fatalf("unexpected error; got %v; want %v", err, wantErr)
			}
			if !strings.Contains(err.Error(), wantText) {
				t.Fatalf("unexpected error text; got %q; want it to contain %q", err, wantText)
			}
		})
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	cfg := DefaultConfig()
	cfg.DataDir = newDataDir(t)
	cfg.Port = taken
	f("port taken", cfg, ErrPortInUse, "127.0.0.1:"+strconv.Itoa(taken))

	cfg = DefaultConfig()
	cfg.DataDir = newDataDir(t)
	cfg.BinDir = t.TempDir()
	f("wrong bin dir", cfg, ErrNoBinaries, "apt-get install postgresql")

	cfg = DefaultConfig()
	f("no data dir", cfg, nil, "DataDir is empty")

	cfg = DefaultConfig()
	cfg.DataDir = newDataDir(t)
	cfg.Settings = map[string]string{"no_such_setting": "1"}
	f("bad setting", cfg, nil, `unrecognized configuration parameter "no_such_setting"`)

	if os.Geteuid() == 0 {
		locked := filepath.Join(t.TempDir(), "locked")
		if err := os.Mkdir(locked, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg = DefaultConfig()
		cfg.DataDir = filepath.Join(locked, "data")
		f("unreachable", cfg, ErrUnreachable, "chmod o+x")
	}
}

func TestStart_AlreadyRunning(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = newDataDir(t)
	cfg.Ephemeral = true
	s := mustStart(t, cfg)

	_, err := Start(context.Background(), cfg)
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("unexpected error; got %v; want %v", err, ErrAlreadyRunning)
	}
	if pid := strconv.Itoa(s.proc.cmd.Process.Pid); !strings.Contains(err.Error(), "pid "+pid) {
		t.Fatalf("error does not name pid %s: %v", pid, err)
	}
}

// A postmaster.pid naming a live process that is not postgres (a pid
// reused after a crash) must not block the start.
func TestStart_StalePID(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = newDataDir(t)
	cfg.Ephemeral = true
	s := mustStart(t, cfg)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(s.DataDir(), "pgdata", "postmaster.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustStart(t, cfg)
	psql(t, s.DSN(), "SELECT 1")
}

// The server must not outlive a killed hepvault: a helper process (this
// test binary again) starts one and is killed with SIGKILL.
func TestStart_DiesWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux only")
	}
	if dir := os.Getenv("PGEMBED_HELPER_DIR"); dir != "" {
		cfg := DefaultConfig()
		cfg.DataDir = dir
		cfg.Ephemeral = true
		s, err := Start(context.Background(), cfg)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(s.proc.cmd.Process.Pid)
		time.Sleep(time.Minute)
		os.Exit(1)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestStart_DiesWithParent$")
	cmd.Env = append(os.Environ(), "PGEMBED_HELPER_DIR="+newDataDir(t))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		cmd.Process.Kill()
		t.Fatalf("helper did not print the server pid: %q %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGQUIT)
			t.Fatalf("postgres pid %d still runs 10s after its parent was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs; a zombie does not (init may be slow to
// reap the orphan).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestMajorVersion(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := majorVersion(in); got != want {
			t.Fatalf("unexpected major version of %q; got %q; want %q", in, got, want)
		}
	}
	f("15.14", "15")
	f("16beta1", "16")
	f("9.6.24", "9.6")
}

func TestKill_StartRecovers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = newDataDir(t)
	cfg.Ephemeral = true
	// Ephemeral turns synchronous_commit off: the commit could still be in
	// the server's memory when it is killed.
	cfg.Settings["synchronous_commit"] = "on"
	s := mustStart(t, cfg)
	psql(t, s.DSN(), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
	pid := s.proc.cmd.Process.Pid
	if err := s.Kill(); err != nil {
		t.Fatalf("unexpected error from Kill: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Kill")
	}
	if alive(pid) {
		t.Fatalf("postgres pid %d runs after Kill", pid)
	}
	if err := s.Kill(); err == nil {
		t.Fatal("unexpected success killing a killed server")
	}

	// Back on the same port, with what was committed.
	cfg.Port = s.Port()
	s2 := mustStart(t, cfg)
	if s2.DSN() != s.DSN() {
		t.Fatalf("unexpected DSN after restart; got %s; want %s", s2.DSN(), s.DSN())
	}
	if got := psql(t, s2.DSN(), "SELECT x FROM kept"); got != "42" {
		t.Fatalf("unexpected row after kill and restart; got %q; want 42", got)
	}
}
