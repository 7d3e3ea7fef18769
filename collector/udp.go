package collector

import (
	"context"
	"fmt"
	"net"
	"time"
)

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

// readUDP reads datagrams into its own buffer, one HEP packet each.
func (c *Collector) readUDP(conn *net.UDPConn) {
	defer c.wg.Done()
	w := &worker{c: c}
	buf := make([]byte, 64<<10)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if isClosed(err) {
				return
			}
			c.metrics.ReadErrors.Add(1)
			c.badLog.Warn("udp_read", "UDP read failed", "err", err)
			continue
		}
		c.metrics.UDPDatagrams.Add(1)
		if len(c.cfg.Allow) > 0 && !c.cfg.Allow.Allows(from.Addr()) {
			c.metrics.drop(ReasonNotAllowed)
			c.badLog.Warn("udp_not_allowed", "HEP from a source not in the allow list; dropped", "src", from.String())
			continue
		}
		w.handle(buf[:n], time.Now())
	}
}
