package collector

import (
	"net"
	"testing"

	"github.com/hepvault/hepvault/internal/fixture"
)

// TestCollector_UDPBurstOverBatches sends bursts of more datagrams than one
// batch read returns, so reads come back full and partly full, and checks
// every packet against its truth: a batch slot reused by the next read must
// never show through in a packet already queued. Each burst is read before
// the next is sent, so a small kernel buffer on a busy machine drops none.
func TestCollector_UDPBurstOverBatches(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	c := startCollector(t, Config{UDPAddr: "127.0.0.1:0", UDPReaders: 1, UDPReadBuffer: 4 << 20, QueueSize: 4096})
	conn, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const burst, n = udpBatch + 7, 3 * (udpBatch + 7)
	m := c.Metrics()
	for i := 0; i < n; i++ {
		if _, err := conn.Write(recs[i%len(recs)].Datagram); err != nil {
			t.Fatal(err)
		}
		if (i+1)%burst == 0 {
			waitFor(t, "a burst was not read", func() bool { return m.UDPDatagrams.Load() == uint64(i+1) })
		}
	}
	got := drain(t, c, n)
	// One reader reads in order, so packet i is datagram i.
	for i, p := range got {
		checkTruth(t, p, recs[i%len(recs)])
		if i > 0 && p.ID <= got[i-1].ID {
			t.Fatalf("packet %d: id %d not after %d", i, p.ID, got[i-1].ID)
		}
	}
	if d := m.UDPDatagrams.Load(); d != n {
		t.Fatalf("counted %d datagrams; want %d", d, n)
	}
}

// TestCollector_UDPAllowListDualStack checks the allow list on a socket
// bound to every address, where an IPv4 sender is seen as ::ffff:a.b.c.d.
func TestCollector_UDPAllowListDualStack(t *testing.T) {
	recs := fixture.Load(t, fixture.HEP3)
	for _, tc := range []struct {
		allow string
		want  bool
	}{{"127.0.0.0/8", true}, {"10.0.0.0/8", false}} {
		l, err := ParseAllowList(tc.allow)
		if err != nil {
			t.Fatal(err)
		}
		c := startCollector(t, Config{UDPAddr: ":0", UDPReaders: 1, Allow: l})
		_, port, _ := net.SplitHostPort(c.UDPAddr().String())
		conn, err := net.Dial("udp4", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(recs[0].Datagram)
		conn.Close()
		m := c.Metrics()
		waitFor(t, "the datagram was never read", func() bool { return m.UDPDatagrams.Load() == 1 })
		if tc.want {
			checkTruth(t, drain(t, c, 1)[0], recs[0])
			continue
		}
		waitFor(t, "the datagram was not dropped as not allowed", func() bool { return m.Dropped(ReasonNotAllowed) == 1 })
		if m.Queued.Load() != 0 {
			t.Fatalf("allow %q: queued %d; want 0", tc.allow, m.Queued.Load())
		}
	}
}
