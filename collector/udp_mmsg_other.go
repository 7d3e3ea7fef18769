//go:build !(linux && (amd64 || arm64))

package collector

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// xnetReader reads datagrams in batches through x/net (recvmmsg on Linux,
// one datagram per call elsewhere); it allocates each source address.
type xnetReader struct {
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
}

func newDatagramReader(conn *net.UDPConn, n, size int) (datagramReader, error) {
	r := &xnetReader{pc: ipv4.NewPacketConn(conn), msgs: make([]ipv4.Message, n)}
	mem := make([]byte, n*size)
	for i := range r.msgs {
		r.msgs[i].Buffers = [][]byte{mem[i*size : (i+1)*size : (i+1)*size]}
	}
	return r, nil
}

func (r *xnetReader) read() (int, error) { return r.pc.ReadBatch(r.msgs, 0) }

func (r *xnetReader) datagram(i int) ([]byte, netip.Addr) {
	m := &r.msgs[i]
	var from netip.Addr
	if u, ok := m.Addr.(*net.UDPAddr); ok {
		from = u.AddrPort().Addr()
	}
	return m.Buffers[0][:m.N], from
}
