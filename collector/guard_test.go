package collector

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
)

func TestParseAllowList_Success(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		l, err := ParseAllowList(in)
		if err != nil {
			t.Fatalf("ParseAllowList(%q): %v", in, err)
		}
		if got := l.String(); got != want {
			t.Fatalf("unexpected list for %q; got %q; want %q", in, got, want)
		}
	}
	f("", "")
	f(" , ", "")
	f("10.0.0.0/8", "10.0.0.0/8")
	f("10.1.2.3/8, 192.0.2.7", "10.0.0.0/8,192.0.2.7/32")
	f("2001:db8::1/32,::1", "2001:db8::/32,::1/128")
	f("::ffff:10.0.0.0/104", "10.0.0.0/8")
	f("::ffff:192.0.2.7", "192.0.2.7/32")
}

func TestParseAllowList_Failure(t *testing.T) {
	for _, in := range []string{"10.0.0.0/33", "example.com", "10.0.0/8", "::ffff:0:0/90", "1.2.3.4/"} {
		if _, err := ParseAllowList(in); err == nil {
			t.Fatalf("ParseAllowList(%q) succeeded; want an error", in)
		}
	}
}

func TestAllowList_Allows(t *testing.T) {
	l, err := ParseAllowList("10.0.0.0/8,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	f := func(addr string, want bool) {
		t.Helper()
		if got := l.Allows(netip.MustParseAddr(addr)); got != want {
			t.Fatalf("unexpected Allows(%s); got %v; want %v", addr, got, want)
		}
	}
	f("10.9.8.7", true)
	f("::ffff:10.9.8.7", true) // IPv4 on a dual-stack socket
	f("11.0.0.1", false)
	f("2001:db8:1::5", true)
	f("2001:db9::5", false)
	f("127.0.0.1", false)
	if !(AllowList{}).Allows(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("an empty allow list refused a source")
	}
}

// logBuffer collects log lines written from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestCollector_UDPReadBufferGrantedOrWarned(t *testing.T) {
	var logs logBuffer
	const want = 8 << 20
	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", UDPReadBuffer: want, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	got := c.Metrics().UDPReadBuffer()
	warned := strings.Contains(logs.String(), "net.core.rmem_max")
	if got < want && !warned {
		t.Fatalf("receive buffer %d bytes, under the %d asked, and no warning; log: %s", got, want, logs.String())
	}
	if got >= want && warned {
		t.Fatalf("warned although %d bytes were granted; log: %s", got, logs.String())
	}
	t.Logf("asked %d bytes, granted %d (net.core.rmem_max %s)", want, got, readRmemMax())
	if drops, err := c.Metrics().UDPKernelDrops(); !c.Metrics().UDPSocket() || err != nil || drops != 0 {
		t.Fatalf("the UDP socket's figures are missing: known %v, kernel drops %d, %v", c.Metrics().UDPSocket(), drops, err)
	}
}

// TestCollector_UDPReadBufferCappedWarns asks for more than any kernel
// grants (even SO_RCVBUFFORCE stops at INT_MAX/2), so the warning shows.
func TestCollector_UDPReadBufferCappedWarns(t *testing.T) {
	var logs logBuffer
	const want = math.MaxInt32
	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", UDPReadBuffer: want, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	got := c.Metrics().UDPReadBuffer()
	if got >= want || got <= 0 {
		t.Fatalf("unexpected granted buffer %d for %d asked", got, want)
	}
	line := logs.String()
	if !strings.Contains(line, "net.core.rmem_max") || !strings.Contains(line, "granted_bytes="+strconv.Itoa(got)) {
		t.Fatalf("no warning naming net.core.rmem_max and the granted size; log: %s", line)
	}
}

func readRmemMax() string {
	b, _ := os.ReadFile("/proc/sys/net/core/rmem_max")
	return strings.TrimSpace(string(b))
}

// TestCollector_UDPKernelDropsExplainLoss floods a socket with a tiny
// receive buffer: whatever the collector did not read, the kernel counted.
func TestCollector_UDPKernelDropsExplainLoss(t *testing.T) {
	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", UDPReaders: 1, UDPReadBuffer: 4096, QueueSize: 16})
	m := c.Metrics()
	if _, err := m.UDPKernelDrops(); err != nil {
		t.Skipf("kernel drop counter unavailable here: %v", err)
	}
	conn, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	datagram := make([]byte, 16<<10) // not HEP: cheap to reject, counted as received
	sent := 0
	for burst := 0; burst < 20; burst++ {
		for i := 0; i < 500; i++ {
			if _, err := conn.Write(datagram); err == nil {
				sent++
			}
		}
		if d, _ := m.UDPKernelDrops(); d > 0 {
			break
		}
	}
	var drops uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		drops, err = m.UDPKernelDrops()
		if err != nil {
			t.Fatal(err)
		}
		if m.UDPDatagrams.Load()+drops >= uint64(sent) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	read := m.UDPDatagrams.Load()
	t.Logf("sent %d, read %d, kernel drops %d", sent, read, drops)
	if read+drops != uint64(sent) {
		t.Fatalf("loss not explained; sent %d; read %d + kernel drops %d = %d", sent, read, drops, read+drops)
	}
	if drops == 0 {
		t.Fatalf("no kernel drops after %d datagrams into a 4 KiB buffer", sent)
	}
	// A datagram is counted as read before it is judged: give the reader
	// time to judge the last ones.
	for m.Dropped(ReasonNotHEP) < read && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m.Dropped(ReasonNotHEP) != read {
		t.Fatalf("unexpected not_hep count; got %d; want %d", m.Dropped(ReasonNotHEP), read)
	}
}

func TestCollector_UDPAllowList(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	f := func(allow string, wantQueued bool) {
		t.Helper()
		l, err := ParseAllowList(allow)
		if err != nil {
			t.Fatal(err)
		}
		c := New(Config{UDPAddr: "127.0.0.1:0", UDPReaders: 1, Allow: l})
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		conn, err := net.Dial("udp", c.UDPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(recs[0].Datagram)
		m := c.Metrics()
		deadline := time.Now().Add(5 * time.Second)
		for m.UDPDatagrams.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if wantQueued {
			checkTruth(t, drain(t, c, 1)[0], recs[0])
			return
		}
		if m.Dropped(ReasonNotAllowed) != 1 || m.Queued.Load() != 0 {
			t.Fatalf("allow %q: unexpected counts; not_allowed %d, queued %d; want 1 and 0", allow, m.Dropped(ReasonNotAllowed), m.Queued.Load())
		}
	}
	f("10.0.0.0/8,2001:db8::/32", false)
	f("10.0.0.0/8,127.0.0.0/8", true)
	f("127.0.0.1", true)
}

// waitFor polls cond, failing with msg after a while.
func waitFor(t *testing.T, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedByPeer reports whether the server closed conn within a few seconds.
func closedByPeer(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := conn.Read(make([]byte, 1))
	return err == io.EOF || (err != nil && !isTimeout(err))
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestCollector_TCPAllowList(t *testing.T) {
	l, _ := ParseAllowList("192.0.2.0/24")
	c := startCollector(t, Config{TCPAddr: "127.0.0.1:0", Allow: l})
	conn, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !closedByPeer(conn) {
		t.Fatal("connection from a source not allowed stayed open")
	}
	if n := c.Metrics().ConnClosed(ConnNotAllowed); n != 1 {
		t.Fatalf("unexpected not_allowed count; got %d; want 1", n)
	}
}

func TestCollector_TCPMaxConns(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	c := startCollector(t, Config{TCPAddr: "127.0.0.1:0", TCPMaxConns: 3})
	m := c.Metrics()
	var open []net.Conn
	for i := 0; i < 3; i++ {
		conn, err := net.Dial("tcp", c.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		open = append(open, conn)
	}
	waitFor(t, "three connections not accepted", func() bool { return m.TCPOpen.Load() == 3 })
	extra, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !closedByPeer(extra) {
		t.Fatal("a fourth connection over the cap of 3 stayed open")
	}
	if n := m.ConnClosed(ConnMaxConns); n != 1 {
		t.Fatalf("unexpected max_conns count; got %d; want 1", n)
	}
	// The three admitted ones still work; once one leaves, a new one is let in.
	for i, conn := range open {
		conn.Write(recs[i].Datagram)
	}
	drain(t, c, 3)
	open[0].Close()
	waitFor(t, "closed connection still counted open", func() bool { return m.TCPOpen.Load() == 2 })
	again, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	again.Write(recs[3].Datagram)
	checkTruth(t, drain(t, c, 1)[0], recs[3])
}

// TestCollector_TCPManyAgentsAndBadOnes runs 300 agents at once beside a
// silent one, one sending an impossible length, one over the frame cap and
// one that leaves mid-frame: each bad one is closed and counted, and every
// packet of the good ones arrives.
func TestCollector_TCPManyAgentsAndBadOnes(t *testing.T) {
	const agents, perAgent = 300, 3
	recs := fixture.Load(t, fixture.HEP3)
	maxFrame := 0
	for _, r := range recs[:perAgent] {
		maxFrame = max(maxFrame, len(r.Datagram))
	}
	c := startCollector(t, Config{TCPAddr: "127.0.0.1:0", QueueSize: agents * perAgent, MaxFrame: maxFrame, TCPIdleTimeout: time.Second})
	m := c.Metrics()
	addr := c.TCPAddr().String()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	bad := func(name string, stream []byte, reason ConnReason) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(stream)
		if reason == ConnPartial {
			conn.(*net.TCPConn).CloseWrite()
		}
		if !closedByPeer(conn) {
			t.Errorf("%s: connection not closed", name)
		}
	}
	impossible := bytes.Clone(recs[0].Datagram)
	binary.BigEndian.PutUint16(impossible[4:6], 3)
	tooLong := append([]byte("HEP3\x00\x00"), make([]byte, maxFrame)...)
	binary.BigEndian.PutUint16(tooLong[4:6], uint16(maxFrame+1))

	var wg sync.WaitGroup
	for a := 0; a < agents; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			for _, r := range recs[:perAgent] {
				if _, err := conn.Write(r.Datagram); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	bad("impossible length", impossible, ConnBadLength)
	bad("over the cap", tooLong, ConnBadLength)
	bad("partial", recs[0].Datagram[:len(recs[0].Datagram)/2], ConnPartial)
	wg.Wait()

	got := drain(t, c, agents*perAgent)
	count := map[string]int{}
	for _, p := range got {
		count[string(p.Raw)]++
	}
	for _, r := range recs[:perAgent] {
		if n := count[string(r.SIP())]; n != agents {
			t.Fatalf("frame %d: unexpected copies; got %d; want %d", r.Truth.Frame, n, agents)
		}
	}
	if !closedByPeer(silent) {
		t.Fatal("silent connection not closed after the idle timeout")
	}
	waitFor(t, "connections still open", func() bool { return m.TCPOpen.Load() == 0 })
	for r, want := range map[ConnReason]uint64{ConnBadLength: 2, ConnPartial: 1, ConnIdle: 1, ConnNotHEP3: 0, ConnReadError: 0, ConnMaxConns: 0} {
		if n := m.ConnClosed(r); n != want {
			t.Fatalf("unexpected %s count; got %d; want %d", r, n, want)
		}
	}
	if n := m.TCPConnections.Load(); n != agents+4 {
		t.Fatalf("unexpected accepted count; got %d; want %d", n, agents+4)
	}
	if m.DroppedTotal() != 0 || m.Queued.Load() != agents*perAgent {
		t.Fatalf("unexpected counts; dropped %d, queued %d", m.DroppedTotal(), m.Queued.Load())
	}
}

// TestCollector_UDPKernelDropsIPv6 finds the drop counter of an IPv6 socket
// too (/proc/net/udp6).
func TestCollector_UDPKernelDropsIPv6(t *testing.T) {
	c := New(Config{UDPAddr: "[::1]:0"})
	if err := c.Start(t.Context()); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer c.Stop()
	if n, err := c.Metrics().UDPKernelDrops(); err != nil || n != 0 {
		t.Fatalf("unexpected kernel drops of a fresh IPv6 socket; got %d, %v; want 0", n, err)
	}
}

// TestCollector_TCPSlowFrame closes an agent that drips a packet a few bytes
// at a time, never idle but never done, and leaves alone one that streams
// split packets for longer than the timeout.
func TestCollector_TCPSlowFrame(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	const timeout = 400 * time.Millisecond
	c := startCollector(t, Config{TCPAddr: "127.0.0.1:0", TCPIdleTimeout: timeout})
	m := c.Metrics()

	steady, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer steady.Close()
	done := make(chan error, 1)
	const frames = 12
	go func() {
		// Each packet in two halves 50 ms apart: 1.2 s of packets always
		// half-read, each one complete well within the timeout.
		for _, r := range recs[:frames] {
			half := len(r.Datagram) / 2
			for _, part := range [][]byte{r.Datagram[:half], r.Datagram[half:]} {
				if _, err := steady.Write(part); err != nil {
					done <- err
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		done <- nil
	}()

	drip, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer drip.Close()
	start := time.Now()
	for _, b := range recs[0].Datagram {
		if _, err := drip.Write([]byte{b}); err != nil {
			break // closed by hepvault, as it should be
		}
		if time.Since(start) > 10*timeout {
			break
		}
		time.Sleep(timeout / 8)
	}
	if !closedByPeer(drip) {
		t.Fatal("dripping agent not closed")
	}
	if err := <-done; err != nil {
		t.Fatalf("steady agent: %v", err)
	}
	steady.Close() // an orderly end, so no idle timeout can race the counts below
	got := drain(t, c, frames)
	for i := range got {
		checkTruth(t, got[i], recs[i])
	}
	if m.ConnClosed(ConnSlowFrame) != 1 || m.ConnClosed(ConnIdle) != 0 {
		t.Fatalf("unexpected counts; slow_frame %d, idle %d; want 1 and 0", m.ConnClosed(ConnSlowFrame), m.ConnClosed(ConnIdle))
	}
}
