//go:build !linux

package collector

import (
	"errors"
	"net"
)

var errNoSockopt = errors.New("not supported on this system")

func setReadBuffer(conn *net.UDPConn, want int) (int, error) { return want, conn.SetReadBuffer(want) }

func socketInode(*net.UDPConn) (uint64, error) { return 0, errNoSockopt }

func kernelDrops(uint64) (uint64, error) { return 0, errNoSockopt }

func readBuffer(*net.UDPConn) (int, error) { return 0, errNoSockopt }
