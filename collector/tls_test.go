package collector

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/certtest"
	"github.com/hepvault/hepvault/internal/fixture"
)

// tlsSetup is a CA, the files of a server certificate it signed, and a
// client certificate it signed.
type tlsSetup struct {
	ca     *certtest.CA
	dir    string
	files  TLSFiles
	server certtest.Pair
	client certtest.Pair
}

func newTLSSetup(t *testing.T, mutual bool) *tlsSetup {
	t.Helper()
	s := &tlsSetup{ca: certtest.NewCA(t, "hepvault test CA"), dir: t.TempDir()}
	s.server, s.client = s.ca.Server(t, "hepvault"), s.ca.Client(t, "kamailio")
	s.files.Cert, s.files.Key = s.server.Write(t, s.dir, "server")
	if mutual {
		s.files.ClientCA = s.ca.Write(t, s.dir, "client-ca.pem")
	}
	return s
}

func startTLSCollector(t *testing.T, s *tlsSetup, edit func(*Config)) *Collector {
	t.Helper()
	certs, err := LoadTLS(s.files)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TLSAddr: "127.0.0.1:0", TLS: certs, QueueSize: 1024}
	if edit != nil {
		edit(&cfg)
	}
	return startCollector(t, cfg)
}

// clientConfig trusts the test CA and presents cert, when given.
func (s *tlsSetup) clientConfig(cert *certtest.Pair) *tls.Config {
	cfg := &tls.Config{RootCAs: s.ca.Pool(), ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS}
	}
	return cfg
}

func TestCollector_TLSMutual(t *testing.T) {
	s := newTLSSetup(t, true)
	c := startTLSCollector(t, s, nil)
	recs := fixture.Load(t, fixture.HEP3)
	conn, err := tls.Dial("tcp", c.TLSAddr().String(), s.clientConfig(&s.client))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The stream cut anywhere, as on TCP: TLS records do not frame HEP.
	var stream []byte
	for _, r := range recs {
		stream = append(stream, r.Datagram...)
	}
	for off := 0; off < len(stream); off += 333 {
		if _, err := conn.Write(stream[off:min(off+333, len(stream))]); err != nil {
			t.Fatal(err)
		}
	}
	got := drain(t, c, len(recs))
	for i := range got {
		checkTruth(t, got[i], recs[i])
	}
	m := c.Metrics()
	if m.TLSFrames() != uint64(len(recs)) || m.TLSHandshakes() != 1 || m.TCPFrames.Load() != 0 {
		t.Fatalf("unexpected counts; got %d TLS frames, %d handshakes, %d TCP frames; want %d, 1, 0", m.TLSFrames(), m.TLSHandshakes(), m.TCPFrames.Load(), len(recs))
	}
	waitFor(t, "decoded count by transport tls", func() bool { return m.Decoded(TransportTLS, 3) == uint64(len(recs)) })
}

// A refused client is closed and counted under its reason, and a client
// whose handshake stalls holds up neither the listener nor other clients.
func TestCollector_TLSRefused(t *testing.T) {
	s := newTLSSetup(t, true)
	c := startTLSCollector(t, s, func(cfg *Config) { cfg.TLSHandshakeTimeout = 300 * time.Millisecond })
	addr := c.TLSAddr().String()
	other := certtest.NewCA(t, "another CA")
	stranger := other.Client(t, "stranger")
	packet := fixture.Load(t, fixture.HEP3)[0].Datagram

	// refusedAfterHandshake dials over TLS and writes a packet: with TLS
	// 1.3 the client's handshake ends before the server has checked its
	// certificate, so the refusal shows on the next read.
	refused := func(cfg *tls.Config) error {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.Write(packet)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		if err == nil || isTimeout(err) {
			t.Fatalf("connection stayed open: %v", err)
		}
		return err
	}
	f := func(name string, want TLSFailure, try func() error) {
		t.Helper()
		before := c.Metrics().TLSHandshakeFailures(want)
		err := try()
		if err == nil {
			t.Fatalf("%s: connection not refused", name)
		}
		waitFor(t, name+": failure not counted as "+want.String(), func() bool {
			return c.Metrics().TLSHandshakeFailures(want) == before+1
		})
	}
	f("no client certificate", TLSNoClientCert, func() error { return refused(s.clientConfig(nil)) })
	f("certificate of another CA", TLSBadClientCert, func() error {
		// Go's client leaves out a certificate the server's CA list does
		// not name; an agent may send it all the same.
		cfg := s.clientConfig(nil)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &stranger.TLS, nil }
		return refused(cfg)
	})
	f("client does not trust the server", TLSPeerAlert, func() error {
		cfg := s.clientConfig(&s.client)
		cfg.RootCAs = other.Pool()
		_, err := tls.Dial("tcp", addr, cfg)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("unexpected client error %v; want an unknown authority", err)
		}
		return err
	})
	f("plain HEP to the TLS port", TLSNotTLS, func() error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(packet)
		if !closedByPeer(conn) {
			t.Fatal("plain HEP connection stayed open")
		}
		return errors.New("closed")
	})
	f("handshake stalls", TLSTimeout, func() error {
		stall, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer stall.Close()
		// Meanwhile a good client gets through.
		good, err := tls.Dial("tcp", addr, s.clientConfig(&s.client))
		if err != nil {
			t.Fatalf("a stalled handshake held up another client: %v", err)
		}
		defer good.Close()
		if _, err := good.Write(packet); err != nil {
			t.Fatal(err)
		}
		drain(t, c, 1)
		if !closedByPeer(stall) {
			t.Fatal("stalled handshake stayed open")
		}
		return errors.New("closed")
	})
	if n := c.QueueLen(); n != 0 {
		t.Fatalf("refused clients queued %d packets; want 0", n)
	}
	waitFor(t, "connections left open", func() bool { return c.Metrics().TCPOpen.Load() == 0 })
}

// Without a client CA any client may send, certificate or not.
func TestCollector_TLSServerOnly(t *testing.T) {
	s := newTLSSetup(t, false)
	c := startTLSCollector(t, s, nil)
	conn, err := tls.Dial("tcp", c.TLSAddr().String(), s.clientConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(fixture.Load(t, fixture.HEP3)[0].Datagram); err != nil {
		t.Fatal(err)
	}
	drain(t, c, 1)
}

// servedSerial dials addr and returns the serial of the certificate served.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestTLSCerts_Reload(t *testing.T) {
	s := newTLSSetup(t, true)
	certs, err := LoadTLS(s.files)
	if err != nil {
		t.Fatal(err)
	}
	c := startCollector(t, Config{TLSAddr: "127.0.0.1:0", TLS: certs})
	addr := c.TLSAddr().String()
	if got, want := servedSerial(t, addr, s.clientConfig(&s.client)), s.server.Cert.SerialNumber.String(); got != want {
		t.Fatalf("unexpected certificate served; got serial %s; want %s", got, want)
	}

	// A new CA: new server certificate, and clients of the old CA refused.
	ca2 := certtest.NewCA(t, "next CA")
	next, client2 := ca2.Server(t, "hepvault"), ca2.Client(t, "kamailio")
	next.Write(t, s.dir, "server")
	ca2.Write(t, s.dir, "client-ca.pem")
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	cfg2 := &tls.Config{RootCAs: ca2.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{client2.TLS}}
	if got, want := servedSerial(t, addr, cfg2), next.Cert.SerialNumber.String(); got != want {
		t.Fatalf("unexpected certificate served after reload; got serial %s; want %s", got, want)
	}
	if certs.Leaf().SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatal("Leaf is not the reloaded certificate")
	}
	old := s.clientConfig(&s.client)
	old.RootCAs = ca2.Pool()
	conn, err := tls.Dial("tcp", addr, old)
	if err == nil {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("client of the old CA accepted after reload: %v", err)
	}

	// A broken file fails the reload and keeps the certificate in use.
	if err := os.WriteFile(filepath.Join(s.dir, "server.key"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err == nil {
		t.Fatal("reload of a broken key succeeded")
	}
	if got, want := servedSerial(t, addr, cfg2), next.Cert.SerialNumber.String(); got != want {
		t.Fatalf("unexpected certificate after a failed reload; got serial %s; want %s", got, want)
	}
}

func TestLoadTLS_Failure(t *testing.T) {
	s := newTLSSetup(t, true)
	f := func(name string, edit func(*TLSFiles)) {
		t.Helper()
		files := s.files
		edit(&files)
		if _, err := LoadTLS(files); err == nil {
			t.Fatalf("%s: LoadTLS succeeded", name)
		}
	}
	f("missing certificate", func(fs *TLSFiles) { fs.Cert = filepath.Join(s.dir, "nope.crt") })
	f("key of another certificate", func(fs *TLSFiles) { _, fs.Key = s.client.Write(t, s.dir, "client") })
	f("client CA without a certificate", func(fs *TLSFiles) { fs.ClientCA = fs.Key })
}

// TLS connections are TCP connections: the allow list refuses them before
// any handshake.
func TestCollector_TLSAllowList(t *testing.T) {
	s := newTLSSetup(t, true)
	l, _ := ParseAllowList("192.0.2.0/24")
	c := startTLSCollector(t, s, func(cfg *Config) { cfg.Allow = l })
	_, err := tls.Dial("tcp", c.TLSAddr().String(), s.clientConfig(&s.client))
	if err == nil {
		t.Fatal("TLS connection from a source not allowed was accepted")
	}
	if n := c.Metrics().ConnClosed(ConnNotAllowed); n != 1 {
		t.Fatalf("unexpected not_allowed count; got %d; want 1", n)
	}
	if n := c.Metrics().TLSHandshakes(); n != 0 {
		t.Fatalf("unexpected handshakes with a refused source; got %d; want 0", n)
	}
}
