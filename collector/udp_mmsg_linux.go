//go:build linux && (amd64 || arm64)

package collector

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"
)

// mmsgReader reads datagrams with recvmmsg(2) straight into reused
// buffers and source-address slots, so a batch read allocates nothing (the
// x/net batch read allocates the source address of every datagram).
type mmsgReader struct {
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []syscall.Iovec
	names []syscall.RawSockaddrInet6 // large enough for IPv4 too
	bufs  [][]byte

	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool // bound once: no closure per read
}

// mmsghdr is struct mmsghdr of <sys/socket.h> on 64-bit Linux.
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
	_   [4]byte
}

func newDatagramReader(conn *net.UDPConn, n, size int) (datagramReader, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &mmsgReader{rc: rc, hdrs: make([]mmsghdr, n), iovs: make([]syscall.Iovec, n),
		names: make([]syscall.RawSockaddrInet6, n), bufs: make([][]byte, n)}
	mem := make([]byte, n*size)
	for i := range r.hdrs {
		r.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(size)
		h := &r.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.Iovlen = 1
	}
	r.readFn = r.recvmmsg
	return r, nil
}

// recvmmsg runs in the netpoller's RawConn.Read: false means "nothing yet,
// wait until the socket is readable".
func (r *mmsgReader) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.n, r.errno = int(n), e
		return true
	}
}

func (r *mmsgReader) read() (int, error) {
	for i := range r.hdrs {
		// The kernel writes the length of the address it stored here.
		r.hdrs[i].hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		r.hdrs[i].hdr.Flags = 0
	}
	r.n, r.errno = 0, 0
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err // net.ErrClosed once the socket is closed
	}
	if r.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	}
	return r.n, nil
}

func (r *mmsgReader) datagram(i int) ([]byte, netip.Addr) {
	buf := r.bufs[i][:r.hdrs[i].len]
	sa := &r.names[i]
	switch sa.Family {
	case syscall.AF_INET:
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return buf, netip.AddrFrom4(sa4.Addr)
	case syscall.AF_INET6:
		return buf, netip.AddrFrom16(sa.Addr)
	}
	return buf, netip.Addr{}
}
