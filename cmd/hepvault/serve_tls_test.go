package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/certtest"
	"github.com/hepvault/hepvault/store/storetest"
)

var tlsAddrLine = regexp.MustCompile(`msg="hepvault is running" .* hep_tls=(\S+)`)

// HEP over mutual TLS into a running hepvault process: an agent with a
// certificate of the client CA is stored, one with another CA's is refused
// and counted, and after the files are replaced, SIGHUP makes hepvault
// serve the new certificate and trust the new CA.
func TestServe_TLSAndSIGHUP(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "hepvault test CA")
	server, agent := ca.Server(t, "hepvault"), ca.Client(t, "kamailio")
	certFile, keyFile := server.Write(t, dir, "server")
	caFile := ca.Write(t, dir, "client-ca.pem")
	dsn := storetest.NewDatabase(t)
	hv := startHepvault(t, "--db", dsn, "--hep-udp", "", "--hep-tcp", "", "--http", "127.0.0.1:0", "--spool-dir", t.TempDir(),
		"--hep-tls", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile)
	m := tlsAddrLine.FindStringSubmatch(hv.log())
	if m == nil {
		t.Fatalf("no hep_tls address in the start log:\n%s", hv.log())
	}
	addr := m[1]
	clientCfg := func(ca *certtest.CA, cert certtest.Pair) *tls.Config {
		return &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }}
	}
	// send writes the packets over TLS and returns the certificate served,
	// or the error that refused the connection.
	send := func(cfg *tls.Config, pkts [][]byte) (serial string, err error) {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		for _, p := range pkts {
			if _, err := conn.Write(p); err != nil {
				return "", err
			}
		}
		// A refusal of the client's certificate arrives after the
		// client's side of a TLS 1.3 handshake: read for it.
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeoutErr(err) {
			return "", err
		}
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
	}

	serial, err := send(clientCfg(ca, agent), hepInvites("tls-a", 3, time.Now(), time.Millisecond, "TCP", nil))
	if err != nil {
		t.Fatal(err)
	}
	if serial != server.Cert.SerialNumber.String() {
		t.Fatalf("unexpected certificate served; got serial %s; want %s", serial, server.Cert.SerialNumber)
	}
	other := certtest.NewCA(t, "another CA")
	if _, err := send(clientCfg(ca, other.Client(t, "stranger")), hepInvites("tls-x", 1, time.Now(), 0, "TCP", nil)); err == nil {
		t.Fatal("agent with a certificate of another CA was not refused")
	}
	waitUntil(t, 10*time.Second, "3 packets stored", func() bool { rows, _ := countCalls(t, dsn, "tls-a"); return rows == 3 })
	for name, want := range map[string]int64{
		`hepvault_received_total{transport="tls"}`:                        3,
		`hepvault_tls_handshakes_total`:                                   1,
		`hepvault_tls_handshake_failures_total{reason="bad_client_cert"}`: 1,
		`hepvault_tls_certificate_expiry_timestamp_seconds`:               server.Cert.NotAfter.Unix(),
	} {
		if got := hv.metric(t, name); got != want {
			t.Fatalf("unexpected %s; got %d; want %d", name, got, want)
		}
	}

	// New files, as a certificate manager renews them; then SIGHUP.
	ca2 := certtest.NewCA(t, "next CA")
	server2, agent2 := ca2.Server(t, "hepvault"), ca2.Client(t, "kamailio")
	server2.Write(t, dir, "server")
	ca2.Write(t, dir, "client-ca.pem")
	if err := hv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the reload's log line", func() bool {
		return strings.Contains(hv.log(), `msg="TLS certificate reloaded"`)
	})
	serial, err = send(clientCfg(ca2, agent2), hepInvites("tls-b", 2, time.Now(), time.Millisecond, "TCP", nil))
	if err != nil {
		t.Fatal(err)
	}
	if serial != server2.Cert.SerialNumber.String() {
		t.Fatalf("unexpected certificate served after SIGHUP; got serial %s; want %s", serial, server2.Cert.SerialNumber)
	}
	if _, err := send(clientCfg(ca2, agent), nil); err == nil {
		t.Fatal("agent of the old client CA still accepted after SIGHUP")
	}
	waitUntil(t, 10*time.Second, "2 more packets stored", func() bool { rows, _ := countCalls(t, dsn, "tls-b"); return rows == 2 })
	if got := hv.metric(t, "hepvault_tls_handshake_failures_total{reason=\"bad_client_cert\"}"); got != 2 {
		t.Fatalf("unexpected bad_client_cert failures; got %d; want 2", got)
	}
	if code := hv.signal(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("unexpected exit code after SIGTERM: %d", code)
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestServe_TLSFlags_Failure(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "hepvault test CA")
	certFile, keyFile := ca.Server(t, "hepvault").Write(t, dir, "server")
	f := func(wantUsage bool, want string, args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		args = append([]string{"serve", "--db", "postgres://127.0.0.1:1/none", "--hep-udp", "", "--hep-tcp", "", "--http", "127.0.0.1:0"}, args...)
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, &stderr)
		var ue usageError
		if err == nil || errors.As(err, &ue) != wantUsage || !strings.Contains(err.Error(), want) {
			t.Fatalf("hepvault %s: unexpected error %v; want one saying %q (usage error: %v)", strings.Join(args, " "), err, want, wantUsage)
		}
	}
	f(true, "--hep-tls needs --tls-cert and --tls-key", "--hep-tls", "127.0.0.1:0", "--tls-cert", certFile)
	f(true, "need --hep-tls", "--tls-cert", certFile, "--tls-key", keyFile)
	f(false, "nope.pem", "--hep-tls", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", dir+"/nope.pem")
	f(false, "server.key", "--hep-tls", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", certFile[:len(certFile)-4]+".key.missing")
}
