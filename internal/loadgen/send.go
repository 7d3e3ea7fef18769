package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// SendConfig says where to send, how fast and for how long.
type SendConfig struct {
	Addr      string // the collector's HEP address, host:port
	Transport string // "udp" or "tcp"
	Conns     int    // UDP sockets or TCP connections, each sending its share
	Rate      int    // offered packets per second, over all connections
	Duration  time.Duration
	Gen       Config // Stream is set per connection
}

// SendResult is what the senders did.
type SendResult struct {
	Offered uint64 // Rate × Duration: what the schedule asked for
	Sent    uint64 // packets handed to the kernel without error
	Bytes   uint64 // HEP bytes of those
	Errors  uint64 // send calls that failed (connection refused, reset)
	Elapsed time.Duration
	// Behind is the largest backlog, in packets, a sender had: when it is
	// large, the generator (or a blocked TCP connection) could not keep up.
	Behind uint64
	// LastErr is the last send error, if any.
	LastErr error
}

// tick is how often the pacer wakes: at each wake it sends what the rate
// owes for the time elapsed since the start, so sleeping late does not
// lower the rate, it only makes the burst bigger.
const tick = time.Millisecond

// Send offers Rate packets per second for Duration, split over Conns senders.
func Send(ctx context.Context, cfg SendConfig) (SendResult, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 1
	}
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return SendResult{}, errors.New("loadgen: rate and duration must be positive")
	}
	conns := make([]net.Conn, cfg.Conns)
	for i := range conns {
		c, err := net.Dial(cfg.Transport, cfg.Addr)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return SendResult{}, fmt.Errorf("loadgen: connect to the collector at %s/%s: %w", cfg.Addr, cfg.Transport, err)
		}
		if uc, ok := c.(*net.UDPConn); ok {
			_ = uc.SetWriteBuffer(4 << 20)
		}
		conns[i] = c
	}
	var (
		res     SendResult
		wg      sync.WaitGroup
		sent    atomic.Uint64
		bytes   atomic.Uint64
		errs    atomic.Uint64
		behind  atomic.Uint64
		errMu   sync.Mutex
		lastErr error
	)
	start := time.Now()
	for i, c := range conns {
		share := cfg.Rate / cfg.Conns
		if i < cfg.Rate%cfg.Conns {
			share++
		}
		gcfg := cfg.Gen
		gcfg.Stream = i
		s := &sender{conn: c, gen: NewGenerator(gcfg), rate: share, start: start, dur: cfg.Duration}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			s.run(ctx)
			sent.Add(s.sent)
			bytes.Add(s.bytes)
			errs.Add(s.errs)
			for {
				old := behind.Load()
				if s.maxBehind <= old || behind.CompareAndSwap(old, s.maxBehind) {
					break
				}
			}
			if s.lastErr != nil {
				errMu.Lock()
				lastErr = s.lastErr
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Offered = uint64(float64(cfg.Rate) * cfg.Duration.Seconds())
	res.Sent, res.Bytes, res.Errors, res.Behind, res.LastErr = sent.Load(), bytes.Load(), errs.Load(), behind.Load(), lastErr
	return res, ctx.Err()
}

// sender paces one connection.
type sender struct {
	conn  net.Conn
	gen   *Generator
	rate  int
	start time.Time
	dur   time.Duration

	sent, bytes, errs uint64
	maxBehind         uint64
	lastErr           error
}

// udpBatch is how many datagrams go to the kernel in one sendmmsg.
const udpBatch = 64

// grace is how long past the duration a sender may take to catch up;
// what it has not sent by then stays unsent, and the run falls short.
const grace = time.Second

func (s *sender) run(ctx context.Context) {
	total := uint64(float64(s.rate) * s.dur.Seconds())
	deadline := s.start.Add(s.dur + grace)
	_ = s.conn.SetWriteDeadline(deadline) // a blocked TCP write ends with the run
	var pc *ipv4.PacketConn
	if uc, ok := s.conn.(*net.UDPConn); ok {
		pc = ipv4.NewPacketConn(uc)
	}
	msgs := make([]ipv4.Message, udpBatch)
	bufs := make([][]byte, udpBatch)
	var stream []byte // TCP: every packet due this tick, in one write
	for ctx.Err() == nil && s.sent+s.errs < total {
		now := time.Now()
		if now.After(deadline) {
			return
		}
		due := min(total, uint64(float64(s.rate)*now.Sub(s.start).Seconds()))
		if due > s.sent+s.errs && due-s.sent-s.errs > s.maxBehind {
			s.maxBehind = due - s.sent - s.errs
		}
		for s.sent+s.errs < due {
			n := int(min(due-s.sent-s.errs, udpBatch))
			if pc != nil {
				for i := 0; i < n; i++ {
					bufs[i], _ = s.gen.Next(bufs[i][:0], now)
					msgs[i].Buffers = bufs[i : i+1]
				}
				s.writeUDP(pc, msgs[:n])
				continue
			}
			stream = stream[:0]
			for i := 0; i < n; i++ {
				stream, _ = s.gen.Next(stream, now)
			}
			if _, err := s.conn.Write(stream); err != nil {
				// A stream that failed a write is broken (reset, or the
				// deadline passed while the collector did not read).
				s.errs += uint64(n)
				s.lastErr = err
				return
			}
			s.sent += uint64(n)
			s.bytes += uint64(len(stream))
		}
		time.Sleep(tick)
	}
}

// writeUDP sends a batch; what the kernel refuses is counted as an error.
func (s *sender) writeUDP(pc *ipv4.PacketConn, msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := pc.WriteBatch(msgs, 0)
		if n == 0 && err == nil {
			err = errors.New("loadgen: sendmmsg sent nothing")
		}
		for i := 0; i < n; i++ {
			s.bytes += uint64(len(msgs[i].Buffers[0]))
		}
		s.sent += uint64(n)
		msgs = msgs[n:]
		if err != nil {
			// The datagram at the head failed (e.g. ICMP port unreachable
			// reported on a connected socket): count it and go on.
			s.errs++
			s.lastErr = err
			msgs = msgs[1:]
		}
	}
}
