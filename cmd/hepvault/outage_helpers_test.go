package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/store/pgembed"
)

// Helpers of the outage and shutdown tests: a PostgreSQL the test can kill,
// hepvault as a child process the test can signal, and HEP traffic.

// asMainEnv makes the test binary run main() instead of the tests, so a
// test can start hepvault as a process of its own without building it.
const asMainEnv = "HEPVAULT_TEST_RUN_MAIN"

// postgresDir returns a data folder the postgres user can reach when the
// tests run as root (go test's temp dirs are 0700).
func postgresDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "data")
}

// startPostgres starts a throwaway PostgreSQL on a free port and stops it
// when the test ends; it skips the test where none can run.
func startPostgres(t *testing.T) *outagePG {
	t.Helper()
	pg, err := launchPostgres(postgresDir(t), 0)
	if err != nil {
		t.Skipf("no PostgreSQL to kill: %v", err)
	}
	t.Cleanup(func() { pg.Stop(context.Background()) })
	return &outagePG{parent: t, Server: pg}
}

// outagePG is a PostgreSQL that subtests kill and restart.
type outagePG struct {
	parent *testing.T // the test whose end stops the server
	*pgembed.Server
}

// restart starts the killed server again on its data folder and port.
func (o *outagePG) restart(t *testing.T) {
	t.Helper()
	pg, err := launchPostgres(o.DataDir(), o.Port())
	if err != nil {
		t.Fatal(err)
	}
	o.parent.Cleanup(func() { pg.Stop(context.Background()) })
	o.Server = pg
}

func launchPostgres(dataDir string, port int) (*pgembed.Server, error) {
	cfg := pgembed.DefaultConfig()
	cfg.DataDir, cfg.Port, cfg.Ephemeral = dataDir, port, true
	// Ephemeral turns synchronous_commit off: a commit would return before
	// its WAL left the server's memory, and SIGKILL would lose it. fsync
	// stays off: the kernel keeps what was written when postgres dies.
	cfg.Settings["synchronous_commit"] = "on"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return pgembed.Start(ctx, cfg)
}

// hepTraffic returns n HEPv3 packets, each a SIP INVITE with its own
// Call-ID (prefix-0 … prefix-(n-1)), captured now.
func hepTraffic(prefix string, n int) [][]byte {
	return hepTrafficAt(prefix, n, time.Now(), time.Microsecond)
}

// hepTrafficAt is hepTraffic with packet i captured at start + i*step.
func hepTrafficAt(prefix string, n int, start time.Time, step time.Duration) [][]byte {
	return hepInvites(prefix, n, start, step, "UDP", nil)
}

// hepInvites returns n HEPv3 INVITEs over transport (UDP or TCP), Call-IDs
// prefix-0..., packet i captured at start + i*step with body(i) as its
// text/plain body (none when body is nil).
func hepInvites(prefix string, n int, start time.Time, step time.Duration, transport string, body func(i int) string) [][]byte {
	proto := uint8(17)
	if transport == "TCP" {
		proto = 6
	}
	out := make([][]byte, n)
	for i := range out {
		at := start.Add(time.Duration(i) * step)
		var b, ct string
		if body != nil {
			b, ct = body(i), "Content-Type: text/plain\r\n"
		}
		sipMsg := "INVITE sip:bob@192.0.2.2 SIP/2.0\r\n" +
			"Via: SIP/2.0/" + transport + " 192.0.2.1:5060;branch=z9hG4bK" + strconv.Itoa(i) + "\r\n" +
			"From: <sip:alice@192.0.2.1>;tag=" + strconv.Itoa(i) + "\r\nTo: <sip:bob@192.0.2.2>\r\n" +
			"Call-ID: " + prefix + "-" + strconv.Itoa(i) + "\r\nCSeq: 1 INVITE\r\n" + ct +
			"Content-Length: " + strconv.Itoa(len(b)) + "\r\n\r\n" + b
		p := hep.Packet{
			Family: 2, Proto: proto, ProtoType: hep.ProtoTypeSIP,
			SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"), SrcPort: 5060, DstPort: 5060,
			TsSec: uint32(at.Unix()), TsUsec: uint32(at.Nanosecond() / 1000), CaptureID: 2001, Payload: []byte(sipMsg),
		}
		out[i] = hep.AppendV3(nil, &p)
	}
	return out
}

// pacedSend writes pkts to conn, one write each, at about rate per second,
// until done or the first error; it returns how many it wrote.
func pacedSend(conn net.Conn, pkts [][]byte, rate int) (int, error) {
	const tick = 10 * time.Millisecond
	perTick := max(rate/int(time.Second/tick), 1)
	start := time.Now()
	for i := range pkts {
		if i%perTick == 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i/perTick) * tick)))
		}
		if _, err := conn.Write(pkts[i]); err != nil {
			return i, err
		}
	}
	return len(pkts), nil
}

// countCalls returns how many packets the database holds whose Call-ID
// starts with prefix, duplicates included, and how many distinct Call-IDs
// they hold: counted in SQL over the packets view, not through the API,
// which would drop a packet stored twice.
func countCalls(t *testing.T, dsn, prefix string) (rows, distinct int) {
	t.Helper()
	like := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(prefix) + "-%"
	return sqlCount(t, dsn, `SELECT count(*) FROM packets WHERE call_id LIKE $1`, like),
		sqlCount(t, dsn, `SELECT count(DISTINCT call_id) FROM packets WHERE call_id LIKE $1`, like)
}

// waitUntil polls cond every 50 ms for up to timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hepvaultProc is hepvault running as a child process.
type hepvaultProc struct {
	cmd      *exec.Cmd
	http     string // API address
	hepUDP   string // "off" when disabled
	hepTCP   string
	exited   chan struct{}
	exitErr  error
	logMu    sync.Mutex
	logLines []string
}

var runningLine = regexp.MustCompile(`msg="hepvault is running" http=(\S+) hep_udp=(\S+) hep_tcp=(\S+)`)

// startHepvault runs "hepvault serve args..." as a child process and
// returns once it listens; the test's end kills it if it still runs.
func startHepvault(t *testing.T, args ...string) *hepvaultProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &hepvaultProc{cmd: cmd, exited: make(chan struct{})}
	running := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.logMu.Lock()
			p.logLines = append(p.logLines, line)
			p.logMu.Unlock()
			if m := runningLine.FindStringSubmatch(line); m != nil {
				running <- m[1:]
			}
		}
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("hepvault log:\n%s", p.log())
		}
	})
	select {
	case addrs := <-running:
		p.http, p.hepUDP, p.hepTCP = addrs[0], addrs[1], addrs[2]
	case <-p.exited:
		t.Fatalf("hepvault exited at start: %v\n%s", p.exitErr, p.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("hepvault did not start within 30 s:\n%s", p.log())
	}
	return p
}

func (p *hepvaultProc) log() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return strings.Join(p.logLines, "\n")
}

// signal sends sig and waits for the process to exit, returning its exit code.
func (p *hepvaultProc) signal(t *testing.T, sig os.Signal, timeout time.Duration) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("hepvault still runs %s after %v", timeout, sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

// metric reads one sample from the process's /metrics, e.g.
// `hepvault_spooled_total` or `hepvault_received_total{transport="tcp"}`.
func (p *hepvaultProc) metric(t *testing.T, name string) int64 {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range bytes.Split(body, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(name+" ")); ok {
			// The exposition writes floats: 1e+06 for a million.
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, v)
			}
			return int64(f)
		}
	}
	t.Fatalf("metric %s not in /metrics:\n%s", name, body)
	return 0
}

// logValue returns key's value in the last log line with msg.
func (p *hepvaultProc) logValue(t *testing.T, msg, key string) int64 {
	t.Helper()
	re := regexp.MustCompile(`msg=` + regexp.QuoteMeta(msg) + `\b.*\b` + regexp.QuoteMeta(key) + `=(\d+)`)
	p.logMu.Lock()
	defer p.logMu.Unlock()
	for i := len(p.logLines) - 1; i >= 0; i-- {
		if m := re.FindStringSubmatch(p.logLines[i]); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no log line %q with %s", msg, key)
	return 0
}
