package collector

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// udpBatch is how many datagrams one read may return. recvmmsg hands over
// up to this many per system call, so at tens of thousands of packets a
// second a reader pays one wake-up and one syscall per batch, not per packet.
const udpBatch = 64

// udpMaxDatagram is the room per datagram: the largest UDP payload, so no
// HEP packet is ever cut short.
const udpMaxDatagram = 64 << 10

func (c *Collector) listenUDP(ctx context.Context) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", c.cfg.UDPAddr)
	if err != nil {
		return fmt.Errorf("collector: listen on HEP UDP %s: %w", c.cfg.UDPAddr, err)
	}
	conn := pc.(*net.UDPConn)
	c.tuneUDP(conn)
	c.udp = conn
	c.log.Info("listening for HEP", "transport", "udp", "addr", conn.LocalAddr().String())
	for i := 0; i < c.cfg.UDPReaders; i++ {
		c.wg.Add(1)
		go c.readUDP(conn)
	}
	return nil
}

// datagramReader reads up to a batch of datagrams per call into buffers it
// owns and reuses; datagram(i) is valid until the next read.
type datagramReader interface {
	read() (int, error)
	datagram(i int) (payload []byte, from netip.Addr)
}

// readUDP reads datagrams in batches, one HEP packet per datagram. The
// batch read works on IPv4, IPv6 and dual-stack sockets alike.
func (c *Collector) readUDP(conn *net.UDPConn) {
	defer c.wg.Done()
	w := &worker{c: c, transport: TransportUDP}
	defer w.flush()
	r, err := newDatagramReader(conn, udpBatch, udpMaxDatagram)
	if err != nil {
		c.log.Error("UDP listener cannot read; HEP over UDP is not received", "err", err)
		return
	}
	for {
		n, err := r.read()
		if err != nil {
			if isClosed(err) {
				return
			}
			c.metrics.ReadErrors.Add(1)
			c.badLog.Warn("udp_read", "UDP read failed", "err", err)
			continue
		}
		// Every datagram of a batch was in the socket when the call
		// returned: one clock read stands for all of them.
		recv := time.Now()
		c.metrics.UDPDatagrams.Add(uint64(n))
		for i := 0; i < n; i++ {
			buf, from := r.datagram(i)
			if len(c.cfg.Allow) > 0 && !c.cfg.Allow.Allows(from) {
				c.metrics.drop(ReasonNotAllowed)
				c.badLog.Warn("udp_not_allowed", "HEP from a source not in the allow list; dropped", "src", from.String())
				continue
			}
			w.handle(buf, recv)
		}
		w.flush()
	}
}
