package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// TLSFiles names the PEM files of the HEP over TLS listener.
type TLSFiles struct {
	Cert string // the server's certificate, its chain after it
	Key  string // the certificate's private key
	// ClientCA, when set, makes TLS mutual: an agent must present a
	// certificate signed by one of these CAs, or its connection is refused.
	ClientCA string
}

// TLSCerts holds the HEP over TLS listener's certificate and client CAs as
// last loaded from their files. Reload reads the files again; handshakes
// begun after it use what it loaded, those under way finish with the old.
type TLSCerts struct {
	files  TLSFiles
	cur    atomic.Pointer[tlsLoaded]
	server *tls.Config // asks cur for the config at each handshake
}

type tlsLoaded struct {
	config *tls.Config
	leaf   *x509.Certificate
}

// ErrNoClientCert is the handshake error of an agent that presents no
// certificate where mutual TLS asks for one.
var ErrNoClientCert = errors.New("collector: TLS client presented no certificate; a client CA is configured")

// LoadTLS reads the files once; it fails, naming the file, when one cannot
// be read or parsed, or the key does not match the certificate.
func LoadTLS(files TLSFiles) (*TLSCerts, error) {
	c := &TLSCerts{files: files}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	c.server = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return c.cur.Load().config, nil
		},
	}
	return c, nil
}

// Reload reads the files again. On error the certificates in use stay as
// they were, so a half-written file never leaves the listener without one.
func (c *TLSCerts) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.files.Cert, c.files.Key)
	if err != nil {
		return fmt.Errorf("collector: TLS certificate %s with key %s: %w", c.files.Cert, c.files.Key, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
	}
	if c.files.ClientCA != "" {
		pem, err := os.ReadFile(c.files.ClientCA)
		if err != nil {
			return fmt.Errorf("collector: TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("collector: TLS client CA %s: no PEM certificate in it", c.files.ClientCA)
		}
		// VerifyClientCertIfGiven plus VerifyConnection rather than
		// RequireAndVerifyClientCert: a missing certificate then fails with
		// a sentinel the handshake's failure can be counted by.
		cfg.ClientAuth, cfg.ClientCAs = tls.VerifyClientCertIfGiven, pool
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrNoClientCert
			}
			return nil
		}
	}
	c.cur.Store(&tlsLoaded{config: cfg, leaf: pair.Leaf})
	return nil
}

// Leaf is the certificate served now.
func (c *TLSCerts) Leaf() *x509.Certificate { return c.cur.Load().leaf }

// Mutual says whether agents must present a certificate.
func (c *TLSCerts) Mutual() bool { return c.files.ClientCA != "" }

// TLSFailure says why a TLS handshake failed.
type TLSFailure uint8

// Reasons a HEP over TLS handshake fails; each has a counter.
const (
	TLSTimeout       TLSFailure = iota // not done within TLSHandshakeTimeout
	TLSNotTLS                          // the client spoke something else (plain HEP, HTTP)
	TLSNoClientCert                    // mutual TLS, and the client presented no certificate
	TLSBadClientCert                   // the client's certificate did not verify against the client CA
	TLSPeerAlert                       // the client gave up with an alert (it did not trust hepvault's certificate, no common version)
	TLSClosed                          // the client closed the connection mid-handshake
	TLSOther                           // anything else
	numTLSFailures
)

var tlsFailureNames = [numTLSFailures]string{
	"timeout", "not_tls", "no_client_cert", "bad_client_cert", "peer_alert", "closed", "other",
}

func (r TLSFailure) String() string { return tlsFailureNames[r] }

// TLSFailures lists every reason, for metrics.
func TLSFailures() []TLSFailure {
	out := make([]TLSFailure, numTLSFailures)
	for i := range out {
		out[i] = TLSFailure(i)
	}
	return out
}

// tlsFailureOf classifies a handshake error.
func tlsFailureOf(err error) TLSFailure {
	var (
		ne     net.Error
		rh     tls.RecordHeaderError
		verify *tls.CertificateVerificationError
		op     *net.OpError
	)
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return TLSTimeout
	case errors.As(err, &rh):
		return TLSNotTLS
	case errors.Is(err, ErrNoClientCert):
		return TLSNoClientCert
	case errors.As(err, &verify):
		return TLSBadClientCert
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports the peer's alert so; the alert's type is
		// unexported.
		return TLSPeerAlert
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return TLSClosed
	}
	return TLSOther
}

// tlsMetrics counts the TLS listener's handshakes.
type tlsMetrics struct {
	handshakes atomic.Uint64
	failures   [numTLSFailures]atomic.Uint64
	frames     atomic.Uint64
}

// TLSHandshakes returns how many TLS handshakes succeeded.
func (m *Metrics) TLSHandshakes() uint64 { return m.tls.handshakes.Load() }

// TLSHandshakeFailures returns how many TLS handshakes failed for r.
func (m *Metrics) TLSHandshakeFailures(r TLSFailure) uint64 { return m.tls.failures[r].Load() }

// TLSFrames returns how many HEP packets were framed from TLS streams.
func (m *Metrics) TLSFrames() uint64 { return m.tls.frames.Load() }

func (c *Collector) listenTLS(ctx context.Context) error {
	if c.cfg.TLS == nil {
		return fmt.Errorf("collector: HEP TLS on %s: no certificate given", c.cfg.TLSAddr)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.cfg.TLSAddr)
	if err != nil {
		return fmt.Errorf("collector: listen on HEP TLS %s: %w", c.cfg.TLSAddr, err)
	}
	c.tlsLn = ln
	c.log.Info("listening for HEP", "transport", "tls", "addr", ln.Addr().String(), "mutual_tls", c.cfg.TLS.Mutual())
	c.wg.Add(1)
	go c.acceptTCP(ln, TransportTLS)
	return nil
}

// handshake runs the TLS handshake of a new connection within the
// handshake timeout, in the connection's own goroutine: a client that
// stalls holds up nobody else. A failure is counted and logged at a
// bounded rate; the caller closes the connection.
func (c *Collector) handshake(raw net.Conn) (*tls.Conn, bool) {
	conn := tls.Server(raw, c.cfg.TLS.server)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.TLSHandshakeTimeout)
	defer cancel()
	_ = raw.SetDeadline(time.Now().Add(c.cfg.TLSHandshakeTimeout))
	err := conn.HandshakeContext(ctx)
	_ = raw.SetDeadline(time.Time{})
	if err != nil {
		r := tlsFailureOf(err)
		c.metrics.tls.failures[r].Add(1)
		c.badLog.Warn("tls_"+r.String(), "HEP TLS handshake failed; connection closed", "reason", r.String(),
			"remote", raw.RemoteAddr().String(), "err", err)
		return nil, false
	}
	c.metrics.tls.handshakes.Add(1)
	return conn, true
}

// TLSAddr is the bound HEP over TLS address, or nil.
func (c *Collector) TLSAddr() net.Addr {
	if c.tlsLn == nil {
		return nil
	}
	return c.tlsLn.Addr()
}
