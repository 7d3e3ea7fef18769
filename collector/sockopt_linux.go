package collector

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// setReadBuffer asks the kernel for a receive buffer of want bytes and
// returns what it granted. Linux caps SO_RCVBUF at net.core.rmem_max;
// SO_RCVBUFFORCE passes the cap when the process has CAP_NET_ADMIN (root in
// most containers), so it is tried when the plain request fell short.
func setReadBuffer(conn *net.UDPConn, want int) (int, error) {
	if err := conn.SetReadBuffer(want); err != nil {
		return 0, err
	}
	got, err := readBuffer(conn)
	if err != nil || got >= want {
		return got, err
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return got, err
	}
	_ = rc.Control(func(fd uintptr) {
		// Failure (no CAP_NET_ADMIN) leaves the capped size in place.
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, want)
	})
	return readBuffer(conn)
}

// readBuffer returns the socket's receive buffer as the application sees
// it. The kernel reports twice the size asked for (it counts its own
// bookkeeping, socket(7)), so the value is halved to compare with a request.
func readBuffer(conn *net.UDPConn) (int, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		n, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("getsockopt SO_RCVBUF: %w", serr)
	}
	return n / 2, nil
}

// socketInode returns the inode number that names conn's socket in
// /proc/net/udp{,6}.
func socketInode(conn *net.UDPConn) (uint64, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("fstat UDP socket: %w", serr)
	}
	return st.Ino, nil
}

// kernelDrops returns how many datagrams the kernel dropped for the socket
// with this inode (the "drops" column of /proc/net/udp and udp6: receive
// buffer full, mostly). It is read on demand rather than with every packet
// (SO_RXQ_OVFL), so the count is current even when no packet arrives after
// the drops, and the read path stays one plain recvfrom.
func kernelDrops(inode uint64) (uint64, error) {
	want := strconv.FormatUint(inode, 10)
	for _, name := range []string{"/proc/self/net/udp", "/proc/self/net/udp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue // no IPv6 in this kernel, say
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			f := bytes.Fields(sc.Bytes())
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			if len(f) < 13 || string(f[9]) != want {
				continue
			}
			return strconv.ParseUint(string(f[len(f)-1]), 10, 64)
		}
	}
	return 0, fmt.Errorf("UDP socket inode %d not in /proc/self/net/udp{,6}", inode)
}
