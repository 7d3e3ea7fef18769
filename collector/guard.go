package collector

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
)

// ConnReason says why the collector refused or closed a TCP connection.
type ConnReason uint8

// Reasons a TCP connection is refused or closed by hepvault; each has a counter.
const (
	ConnMaxConns   ConnReason = iota // refused: TCPMaxConns connections were open
	ConnNotAllowed                   // refused: source not in the allow list
	ConnIdle                         // closed: nothing arrived for TCPIdleTimeout
	ConnNotHEP3                      // closed: a frame boundary does not start "HEP3"
	ConnBadLength                    // closed: frame length under 6 or over MaxFrame
	ConnPartial                      // the agent closed in the middle of a frame
	ConnReadError                    // closed: the socket failed
	ConnSlowFrame                    // closed: a frame begun was not complete within TCPIdleTimeout
	numConnReasons
)

var connReasonNames = [numConnReasons]string{
	"max_conns", "not_allowed", "idle", "not_hep3", "bad_length", "partial_frame", "read_error", "slow_frame",
}

func (r ConnReason) String() string { return connReasonNames[r] }

// ConnReasons lists every reason, for metrics.
func ConnReasons() []ConnReason {
	out := make([]ConnReason, numConnReasons)
	for i := range out {
		out[i] = ConnReason(i)
	}
	return out
}

// guardMetrics are the counters of the collector's defences: connections
// refused or closed, and the UDP socket's kernel-side state.
type guardMetrics struct {
	conn [numConnReasons]atomic.Uint64
	// udpBuffer is the receive buffer the kernel granted, in bytes.
	udpBuffer atomic.Int64
	// udpInode names the UDP socket in /proc/net/udp; 0 when unknown.
	udpInode atomic.Uint64
}

// ConnClosed returns how many TCP connections were refused or closed for r.
func (m *Metrics) ConnClosed(r ConnReason) uint64 { return m.guard.conn[r].Load() }

// UDPKernelDrops returns how many datagrams the kernel dropped before
// hepvault could read them (receive buffer full). It fails when there is
// no UDP listener or the system does not say.
func (m *Metrics) UDPKernelDrops() (uint64, error) {
	ino := m.guard.udpInode.Load()
	if ino == 0 {
		return 0, fmt.Errorf("no UDP socket whose drops can be read")
	}
	return kernelDrops(ino)
}

// UDPReadBuffer returns the UDP receive buffer the kernel granted, in bytes.
func (m *Metrics) UDPReadBuffer() int { return int(m.guard.udpBuffer.Load()) }

// UDPSocket says whether a UDP socket's figures (UDPReadBuffer and
// UDPKernelDrops) are known.
func (m *Metrics) UDPSocket() bool { return m.guard.udpInode.Load() != 0 }

// tuneUDP sizes the socket's receive buffer, says when the kernel would not
// grant it, and finds the socket's drop counter.
func (c *Collector) tuneUDP(conn *net.UDPConn) {
	if want := c.cfg.UDPReadBuffer; want > 0 {
		got, err := setReadBuffer(conn, want)
		switch {
		case err != nil:
			c.log.Warn("could not set the UDP receive buffer", "bytes", want, "err", err)
		case got < want:
			c.log.Warn("the kernel capped the UDP receive buffer; bursts may be dropped (counted in hepvault_udp_kernel_drops_total): raise net.core.rmem_max (sysctl -w net.core.rmem_max=N) or run with CAP_NET_ADMIN",
				"asked_bytes", want, "granted_bytes", got)
		}
	}
	if got, err := readBuffer(conn); err == nil {
		c.metrics.guard.udpBuffer.Store(int64(got))
	}
	ino, err := socketInode(conn)
	if err == nil {
		_, err = kernelDrops(ino)
	}
	if err != nil {
		c.log.Warn("kernel drop counter of the UDP socket unavailable; hepvault_udp_kernel_drops_total will be missing", "err", err)
		return
	}
	c.metrics.guard.udpInode.Store(ino)
}

// admitTCP decides whether a new connection may stay: its source must be
// allowed and fewer than TCPMaxConns may be open. A refused one is closed
// and counted.
func (c *Collector) admitTCP(conn net.Conn) bool {
	refuse := func(r ConnReason, args ...any) bool {
		c.metrics.guard.conn[r].Add(1)
		conn.Close()
		c.badLog.Warn("tcp_"+r.String(), "HEP TCP connection refused", append([]any{"reason", r.String(), "remote", conn.RemoteAddr().String()}, args...)...)
		return false
	}
	if len(c.cfg.Allow) > 0 && !c.cfg.Allow.Allows(remoteAddr(conn)) {
		return refuse(ConnNotAllowed)
	}
	if max := c.cfg.TCPMaxConns; max > 0 && c.metrics.TCPOpen.Load() >= int64(max) {
		return refuse(ConnMaxConns, "max_conns", max)
	}
	return true
}

// frameReader reads an agent's stream with two deadlines: nothing for the
// idle timeout closes the connection, and so does a frame not complete
// within the idle timeout of its first bytes, so an agent dripping a byte
// now and then cannot hold a connection and its buffer forever.
type frameReader struct {
	conn    net.Conn
	timeout time.Duration
	fr      *hep.Framer
	begun   time.Time // when the unfinished frame was first read from; zero between frames
	slow    bool      // the last deadline set was the frame's, not the idle one
	// beforeRead, when set, is called before each read of the socket.
	beforeRead func()
}

func (r *frameReader) Read(p []byte) (int, error) {
	if r.beforeRead != nil {
		r.beforeRead()
	}
	now := time.Now()
	deadline := now.Add(r.timeout)
	r.slow = false
	if r.fr != nil && r.fr.Buffered() > 0 {
		if r.begun.IsZero() {
			r.begun = now
		}
		if d := r.begun.Add(r.timeout); d.Before(deadline) {
			deadline, r.slow = d, true
		}
	}
	_ = r.conn.SetReadDeadline(deadline)
	return r.conn.Read(p)
}

// frameDone starts the clock afresh for the next frame.
func (r *frameReader) frameDone() { r.begun = time.Time{} }

func remoteAddr(conn net.Conn) netip.Addr {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}
