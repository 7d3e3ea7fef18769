package livetest

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// KamailioConfig says how to run Kamailio.
type KamailioConfig struct {
	ConfigFile string   // kamailio.cfg
	Port       int      // SIP port on 127.0.0.1, UDP and TCP
	Defines    []string // passed as -A, e.g. `HEP_URI="sip:127.0.0.1:9060"`
	// TLSPort, when set, adds a TLS socket on 127.0.0.1: Kamailio sends
	// over TLS (siptrace's HEP to a ";transport=tls" URI) only from a TLS
	// socket, and needs the tls module loaded for it.
	TLSPort int
}

// Kamailio is a running Kamailio.
type Kamailio struct {
	Port int
	p    *proc
}

// StartKamailio runs Kamailio in the foreground (-DD -E: it forks its
// workers but does not detach, and logs to stderr) with its runtime files
// in a temporary directory, and returns once its SIP UDP socket is bound.
func StartKamailio(t *testing.T, cfg KamailioConfig) *Kamailio {
	t.Helper()
	dir := t.TempDir()
	cfgFile, err := filepath.Abs(cfg.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-DD", "-E", "-f", cfgFile, "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"),
		"-m", "32", "-M", "4",
		"-l", fmt.Sprintf("udp:127.0.0.1:%d", cfg.Port), "-l", fmt.Sprintf("tcp:127.0.0.1:%d", cfg.Port)}
	if cfg.TLSPort != 0 {
		args = append(args, "-l", fmt.Sprintf("tls:127.0.0.1:%d", cfg.TLSPort))
	}
	for _, d := range cfg.Defines {
		args = append(args, "-A", d)
	}
	k := &Kamailio{Port: cfg.Port, p: start(t, dir, "kamailio", args...)}
	deadline := time.Now().Add(10 * time.Second)
	for !udpBound(cfg.Port) {
		if k.p.exited() {
			t.Fatalf("kamailio exited at start (%v):\n%s", k.p.err, tail(k.p.out.String(), 4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio did not bind udp:127.0.0.1:%d in 10s:\n%s", cfg.Port, tail(k.p.out.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return k
}

// Addr is where Kamailio takes SIP, as sipp wants it.
func (k *Kamailio) Addr() string { return fmt.Sprintf("127.0.0.1:%d", k.Port) }

// Stop ends Kamailio; it is also done in t.Cleanup.
func (k *Kamailio) Stop() { k.p.stop(5 * time.Second) }

// Log is what Kamailio printed so far.
func (k *Kamailio) Log() string { return k.p.out.String() }

// udpBound reports whether something holds the UDP port on loopback.
func udpBound(port int) bool {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.EADDRINUSE)
}
