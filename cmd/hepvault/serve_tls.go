package main

import (
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hepvault/hepvault/collector"
)

// tlsConfig is HEP over TLS: where it listens and the PEM files.
type tlsConfig struct {
	Addr     string
	Cert     string
	Key      string
	ClientCA string
}

func addTLSFlags(fs *flag.FlagSet, getenv env, c *tlsConfig) {
	fs.StringVar(&c.Addr, "hep-tls", getenv("HEPVAULT_HEP_TLS"), "TCP address for HEP over TLS, e.g. :9061; empty disables (env HEPVAULT_HEP_TLS)")
	fs.StringVar(&c.Cert, "tls-cert", getenv("HEPVAULT_TLS_CERT"), "PEM certificate (chain) of the HEP TLS listener; reread on SIGHUP (env HEPVAULT_TLS_CERT)")
	fs.StringVar(&c.Key, "tls-key", getenv("HEPVAULT_TLS_KEY"), "PEM private key of --tls-cert; reread on SIGHUP (env HEPVAULT_TLS_KEY)")
	fs.StringVar(&c.ClientCA, "tls-client-ca", getenv("HEPVAULT_TLS_CLIENT_CA"),
		"PEM CA certificates: agents must present a certificate they signed (mutual TLS); reread on SIGHUP (env HEPVAULT_TLS_CLIENT_CA)")
}

// check says what is missing or superfluous, before anything starts.
func (c tlsConfig) check() error {
	switch {
	case c.Addr != "" && (c.Cert == "" || c.Key == ""):
		return usagef("--hep-tls needs --tls-cert and --tls-key")
	case c.Addr == "" && (c.Cert != "" || c.Key != "" || c.ClientCA != ""):
		return usagef("--tls-cert, --tls-key and --tls-client-ca need --hep-tls ADDR")
	}
	return nil
}

// load reads the files, or returns nil when HEP over TLS is off.
func (c tlsConfig) load() (*collector.TLSCerts, error) {
	if c.Addr == "" {
		return nil, nil
	}
	return collector.LoadTLS(collector.TLSFiles{Cert: c.Cert, Key: c.Key, ClientCA: c.ClientCA})
}

// reloadTLS rereads the TLS files; on failure the certificates in use stay.
func (s *server) reloadTLS() {
	if s.tls == nil {
		s.log.Info("SIGHUP: nothing to reload (no --hep-tls)")
		return
	}
	if err := s.tls.Reload(); err != nil {
		s.log.Error("TLS certificate reload failed; the certificate in use stays", "err", err)
		return
	}
	leaf := s.tls.Leaf()
	s.log.Info("TLS certificate reloaded", "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "mutual_tls", s.tls.Mutual())
}

// notifyHangup delivers SIGHUP, the usual "reread your files" signal of a
// daemon, on the channel returned, rather than letting it end the process.
func notifyHangup() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}
