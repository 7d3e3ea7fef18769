package collector

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
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

// readUDP reads datagrams in batches into buffers of its own, reused from
// batch to batch, one HEP packet per datagram. ipv4.PacketConn's batch read
// works on IPv6 and dual-stack sockets too: it only uses the socket's fd and
// parses the source address by its family.
func (c *Collector) readUDP(conn *net.UDPConn) {
	defer c.wg.Done()
	w := &worker{c: c}
	pc := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, udpBatch)
	bufs := make([]byte, udpBatch*udpMaxDatagram)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{bufs[i*udpMaxDatagram : (i+1)*udpMaxDatagram : (i+1)*udpMaxDatagram]}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
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
		for i := range msgs[:n] {
			m := &msgs[i]
			if len(c.cfg.Allow) > 0 && !c.cfg.Allow.Allows(sourceAddr(m.Addr)) {
				c.metrics.drop(ReasonNotAllowed)
				c.badLog.Warn("udp_not_allowed", "HEP from a source not in the allow list; dropped", "src", fmt.Sprint(m.Addr))
				continue
			}
			w.handle(m.Buffers[0][:m.N], recv)
		}
	}
}

// sourceAddr is the IP a datagram came from, without the port.
func sourceAddr(a net.Addr) netip.Addr {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort().Addr()
	}
	return netip.Addr{}
}
