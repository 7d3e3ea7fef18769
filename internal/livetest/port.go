package livetest

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreePort returns a loopback port that is free for both UDP and TCP now.
//
// It is drawn below the kernel's ephemeral range: a port the kernel hands
// out (port 0) can be handed out again, to the next outgoing socket of any
// process (Kamailio's TCP connection to hepvault took one in a test run),
// between this call and the bind of the program it is meant for.
func FreePort(t *testing.T) int {
	t.Helper()
	lo, hi := 20000, ephemeralLow()
	for range 200 {
		port := 0 // the kernel's choice, when the range leaves no room below
		if hi-lo >= 1000 {
			port = lo + rand.IntN(hi-lo)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		port = l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return 0
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}
