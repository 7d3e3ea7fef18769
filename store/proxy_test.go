package store_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5/pgconn"
)

// dbProxy stands between a test and its real PostgreSQL so the test can
// take the database away (Cut: every connection closed, new ones closed at
// once, as a killed server does; Stall: connections stay open but nothing
// passes, as with a hung server or a network that drops packets) and bring
// it back (Restore).
type dbProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	down    bool
	stalled bool
	resumed *sync.Cond // broadcast when stalled turns false
	conns   map[net.Conn]struct{}
}

func newDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.resumed = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Restore() // release stalled pipes
		p.Cut()
	})
	return p
}

func (p *dbProxy) Addr() string { return p.ln.Addr().String() }

func (p *dbProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		if !down {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *dbProxy) pipe(c net.Conn) {
	p.waitUnstalled()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	go func() { p.copy(s, c); s.Close() }()
	p.copy(c, s)
	c.Close()
}

// copy is io.Copy that holds what it read while the proxy is stalled.
func (p *dbProxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitUnstalled()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *dbProxy) waitUnstalled() {
	p.mu.Lock()
	for p.stalled {
		p.resumed.Wait()
	}
	p.mu.Unlock()
}

// Stall stops every byte in both directions until Restore; connections
// stay open.
func (p *dbProxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *dbProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore lets connections through again.
func (p *dbProxy) Restore() {
	p.mu.Lock()
	p.down, p.stalled = false, false
	p.resumed.Broadcast()
	p.mu.Unlock()
}

// openProxied returns a migrated store on a fresh database, reached through
// a proxy the test can cut.
func openProxied(t *testing.T) (*store.DB, *dbProxy, string) {
	t.Helper()
	dsn := storetest.NewDatabase(t)
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newDBProxy(t, net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))))
	host, port, _ := net.SplitHostPort(p.Addr())
	proxied := dsn + " host=" + host + " port=" + port
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Host = p.Addr()
		proxied = u.String()
	}
	cfg := store.DefaultConfig()
	cfg.DSN = proxied
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, p, dsn
}
