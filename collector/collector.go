package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// Config says where to listen and how much to buffer.
type Config struct {
	UDPAddr string // "" disables the UDP listener
	TCPAddr string // "" disables the TCP listener
	// TLSAddr is the HEP over TLS listener's address, "" to disable it;
	// TLS holds its certificates. TLS connections are TCP connections too:
	// TCPMaxConns, Allow and TCPIdleTimeout apply to them.
	TLSAddr string
	TLS     *TLSCerts
	// TLSHandshakeTimeout closes a TLS connection whose handshake is not
	// done by then.
	TLSHandshakeTimeout time.Duration
	// UDPReaders is how many goroutines read the UDP socket.
	UDPReaders int
	// UDPReadBuffer is the socket receive buffer asked of the kernel, in bytes.
	UDPReadBuffer int
	// QueueSize is how many packets may wait for the writer.
	QueueSize int
	// MaxFrame caps a HEP packet on TCP; a longer one closes the connection.
	MaxFrame int
	// TCPIdleTimeout closes a connection that sends nothing for this long.
	TCPIdleTimeout time.Duration
	// TCPMaxConns caps the TCP connections open at once; more are refused.
	TCPMaxConns int
	// Allow lists the source networks that may send HEP; empty allows all.
	Allow AllowList
	// AuthKey, when not empty, is the HEP auth key (chunk 0x000e) a packet
	// must carry to be stored; the others are dropped with ReasonAuth.
	AuthKey []byte
	Logger  *slog.Logger
}

// DefaultConfig returns the settings hepvault runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{
		UDPAddr: ":9060", TCPAddr: ":9060", UDPReaders: 2, UDPReadBuffer: 16 << 20,
		QueueSize: 1 << 16, MaxFrame: hep.MaxV3Len, TCPIdleTimeout: 5 * time.Minute,
		TCPMaxConns: 1024, TLSHandshakeTimeout: 10 * time.Second, Logger: slog.Default(),
	}
}

// Collector owns the listeners and the queue of packets for the writer.
type Collector struct {
	cfg     Config
	log     *slog.Logger
	badLog  *rateLog
	metrics Metrics
	queue   chan hepvault.Packet
	lastID  atomic.Int64

	udp   *net.UDPConn
	tcp   net.Listener
	tlsLn net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New returns a collector; Start binds its listeners.
func New(cfg Config) *Collector {
	def := DefaultConfig()
	if cfg.UDPReaders <= 0 {
		cfg.UDPReaders = def.UDPReaders
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = def.QueueSize
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = def.MaxFrame
	}
	if cfg.TCPIdleTimeout <= 0 {
		cfg.TCPIdleTimeout = def.TCPIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = def.Logger
	}
	if cfg.TCPMaxConns <= 0 {
		cfg.TCPMaxConns = def.TCPMaxConns
	}
	if cfg.TLSHandshakeTimeout <= 0 {
		cfg.TLSHandshakeTimeout = def.TLSHandshakeTimeout
	}
	return &Collector{
		cfg: cfg, log: cfg.Logger, badLog: newRateLog(cfg.Logger, 10*time.Second),
		queue: make(chan hepvault.Packet, cfg.QueueSize), conns: map[net.Conn]struct{}{},
	}
}

// Packets is the queue the writer drains; it is closed by Stop once every
// listener has finished.
func (c *Collector) Packets() <-chan hepvault.Packet { return c.queue }

// Metrics returns the collector's counters.
func (c *Collector) Metrics() *Metrics { return &c.metrics }

// QueueLen is how many packets wait for the writer now.
func (c *Collector) QueueLen() int { return len(c.queue) }

// QueueCap is how many packets may wait for the writer.
func (c *Collector) QueueCap() int { return cap(c.queue) }

// Start binds the listeners and starts reading. A bind error (port taken)
// is returned as is, naming the address.
func (c *Collector) Start(ctx context.Context) error {
	if c.cfg.UDPAddr != "" {
		if err := c.listenUDP(ctx); err != nil {
			return err
		}
	}
	if c.cfg.TCPAddr != "" {
		if err := c.listenTCP(ctx); err != nil {
			c.closeListeners()
			return err
		}
	}
	if c.cfg.TLSAddr != "" {
		if err := c.listenTLS(ctx); err != nil {
			c.closeListeners()
			return err
		}
	}
	return nil
}

func (c *Collector) closeListeners() {
	if c.udp != nil {
		c.udp.Close()
	}
	if c.tcp != nil {
		c.tcp.Close()
	}
	if c.tlsLn != nil {
		c.tlsLn.Close()
	}
}

// UDPAddr is the bound UDP address (useful with port 0), or nil.
func (c *Collector) UDPAddr() net.Addr {
	if c.udp == nil {
		return nil
	}
	return c.udp.LocalAddr()
}

// TCPAddr is the bound TCP address, or nil.
func (c *Collector) TCPAddr() net.Addr {
	if c.tcp == nil {
		return nil
	}
	return c.tcp.Addr()
}

// Stop closes the listeners and every TCP connection, waits for the readers
// to finish what they hold, then closes the queue so the writer can drain it.
func (c *Collector) Stop() {
	c.closeOnce.Do(func() {
		c.closeListeners()
		c.mu.Lock()
		for conn := range c.conns {
			conn.Close()
		}
		c.mu.Unlock()
		c.wg.Wait()
		close(c.queue)
	})
}

// worker is the per-goroutine state of the decode path, reused packet after
// packet so decoding allocates nothing.
type worker struct {
	c         *Collector
	transport Transport
	dec       hep.Decoder
	hp        hep.Packet
	msg       sip.Message
	tally     tally // counts not yet in c.metrics: flush adds them
}

// handle decodes one HEP packet and queues it, or counts why not. Its
// counts by HEP version, capture id and SIP message wait in w.tally until
// w.flush, which the readers call before they wait on their socket again.
func (w *worker) handle(buf []byte, recv time.Time) {
	c := w.c
	if err := w.dec.Decode(buf, &w.hp); err != nil {
		r := reasonOf(err)
		c.metrics.drop(r)
		c.badLog.Warn(r.String(), "HEP packet rejected", "reason", r.String(), "err", err, "len", len(buf))
		return
	}
	hp := &w.hp
	w.countDecoded(hp.Version)
	if !c.authorized(hp) {
		c.metrics.drop(ReasonAuth)
		c.badLog.Warn("auth", "HEP packet without the right auth key; dropped", "hep_version", hp.Version,
			"capture_id", hp.CaptureID, "key_present", len(hp.AuthKey) > 0)
		return
	}
	w.countAgent(hp.CaptureID)
	if hp.VendorChunks > 0 {
		c.metrics.VendorChunks.Add(uint64(hp.VendorChunks))
	}
	if hp.UnknownChunks > 0 {
		c.metrics.UnknownChunks.Add(uint64(hp.UnknownChunks))
	}
	// Type 0 is "unset" in some agents; anything else but SIP is another
	// protocol (RTCP, logs) that this store does not keep.
	if hp.ProtoType != hep.ProtoTypeSIP && hp.ProtoType != 0 {
		c.metrics.drop(ReasonNotSIP)
		c.badLog.Warn("not_sip", "HEP packet is not SIP; skipped", "proto_type", hp.ProtoType, "capture_id", hp.CaptureID)
		return
	}
	w.msg.Reset()
	perr := sip.Parse(hp.Payload, &w.msg)
	p := build(hp, &w.msg, perr, recv, c.nextID(recv))
	w.countSIP(&p)
	if perr != nil {
		c.metrics.InvalidSIP.Add(1)
		c.badLog.Warn("invalid_sip", "payload is not valid SIP; stored as invalid", "err", perr, "capture_id", hp.CaptureID,
			"src", fmt.Sprintf("%s:%d", hp.SrcIP, hp.SrcPort))
	}
	select {
	case c.queue <- p:
		c.metrics.Queued.Add(1)
	default:
		c.metrics.drop(ReasonQueueFull)
		c.badLog.Warn("queue_full", "writer is behind; packet dropped", "queue_size", cap(c.queue))
	}
}

// nextID returns an id that orders packets by arrival: the receive time in
// nanoseconds, bumped past the last one so ids never repeat or go back.
func (c *Collector) nextID(recv time.Time) int64 {
	now := recv.UnixNano()
	for {
		last := c.lastID.Load()
		id := max(now, last+1)
		if c.lastID.CompareAndSwap(last, id) {
			return id
		}
	}
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
