package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hepvault/hepvault/collector/hep"
)

func (c *Collector) listenTCP(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.cfg.TCPAddr)
	if err != nil {
		return fmt.Errorf("collector: listen on HEP TCP %s: %w", c.cfg.TCPAddr, err)
	}
	c.tcp = ln
	c.log.Info("listening for HEP", "transport", "tcp", "addr", ln.Addr().String())
	c.wg.Add(1)
	go c.acceptTCP(ln, TransportTCP)
	return nil
}

// acceptTCP takes the connections of a TCP or TLS listener; t says which.
func (c *Collector) acceptTCP(ln net.Listener, t Transport) {
	defer c.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if isClosed(err) {
				return
			}
			c.metrics.ReadErrors.Add(1)
			c.badLog.Warn("tcp_accept", "TCP accept failed", "err", err)
			time.Sleep(50 * time.Millisecond) // out of file descriptors: do not spin
			continue
		}
		if !c.admitTCP(conn) {
			continue
		}
		c.mu.Lock()
		c.conns[conn] = struct{}{}
		c.mu.Unlock()
		c.metrics.TCPConnections.Add(1)
		c.metrics.TCPOpen.Add(1)
		c.wg.Add(1)
		go c.serveTCP(conn, t)
	}
}

// serveTCP frames one agent's stream into HEP packets until it ends; over
// TLS, once the handshake is done, the same framing reads the decrypted
// stream.
func (c *Collector) serveTCP(raw net.Conn, t Transport) {
	defer c.wg.Done()
	defer func() {
		raw.Close()
		c.mu.Lock()
		delete(c.conns, raw)
		c.mu.Unlock()
		c.metrics.TCPOpen.Add(-1)
	}()
	conn, frames := raw, &c.metrics.TCPFrames
	if t == TransportTLS {
		tconn, ok := c.handshake(raw)
		if !ok {
			return
		}
		conn, frames = tconn, &c.metrics.tls.frames
	}
	w := &worker{c: c, transport: t}
	defer w.flush()
	// The counts of the frames handled go to the metrics whenever the
	// framer needs more bytes, before the read that may wait.
	rd := &frameReader{conn: conn, timeout: c.cfg.TCPIdleTimeout, beforeRead: w.flush}
	fr := hep.NewFramer(rd, c.cfg.MaxFrame)
	rd.fr = fr
	remote := conn.RemoteAddr().String()
	for {
		frame, err := fr.Next()
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF), isClosed(err):
			case errors.Is(err, hep.ErrFrameLength):
				c.metrics.TCPBadFrames.Add(1)
				c.metrics.guard.conn[ConnBadLength].Add(1)
				c.badLog.Warn("tcp_bad_length", "closing HEP TCP connection: frame length impossible or over the cap", "remote", remote, "err", err, "max_frame", c.cfg.MaxFrame)
			case errors.Is(err, hep.ErrBadFrame):
				c.metrics.TCPBadFrames.Add(1)
				c.metrics.guard.conn[ConnNotHEP3].Add(1)
				c.badLog.Warn("tcp_bad_frame", "closing HEP TCP connection: stream is not HEPv3", "remote", remote, "err", err)
			case errors.Is(err, hep.ErrPartialFrame):
				c.metrics.TCPPartial.Add(1)
				c.metrics.guard.conn[ConnPartial].Add(1)
				c.badLog.Warn("tcp_partial", "HEP TCP connection ended mid-packet", "remote", remote, "buffered", fr.Buffered())
			case errors.As(err, &ne) && ne.Timeout() && rd.slow:
				c.metrics.guard.conn[ConnSlowFrame].Add(1)
				c.badLog.Warn("tcp_slow_frame", "closing HEP TCP connection: a packet took too long to arrive", "remote", remote, "buffered", fr.Buffered(), "limit_s", c.cfg.TCPIdleTimeout.Seconds())
			case errors.As(err, &ne) && ne.Timeout():
				c.metrics.guard.conn[ConnIdle].Add(1)
				c.log.Info("closing idle HEP TCP connection", "remote", remote, "idle_s", c.cfg.TCPIdleTimeout.Seconds())
			default:
				c.metrics.ReadErrors.Add(1)
				c.metrics.guard.conn[ConnReadError].Add(1)
				c.badLog.Warn("tcp_read", "HEP TCP read failed", "remote", remote, "err", err)
			}
			return
		}
		rd.frameDone()
		frames.Add(1)
		w.handle(frame, time.Now())
	}
}
