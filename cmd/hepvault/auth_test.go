package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/livetest"
	"github.com/hepvault/hepvault/store/storetest"
)

// metric reads one sample of /metrics, e.g. `hepvault_dropped_total{reason="auth"}`.
func metric(t *testing.T, s *server, sample string) uint64 {
	t.Helper()
	return metricAt(t, s.url("/metrics"), sample)
}

func metricAt(t *testing.T, url, sample string) uint64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			// The exposition writes floats: 1e+06 for a million.
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				t.Fatalf("metric %s: %q: %v", sample, v, err)
			}
			return uint64(f)
		}
	}
	t.Fatalf("metrics lack %s", sample)
	return 0
}

// waitMetric polls until sample reaches want, then checks it stays there.
func waitMetric(t *testing.T, s *server, sample string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, s, sample) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := metric(t, s, sample); got != want {
		t.Fatalf("unexpected %s; got %d; want %d", sample, got, want)
	}
}

const authDropped = `hepvault_dropped_total{reason="auth"}`

// The Kamailio capture carries auth key "fixture-hep-key" in every HEPv3
// packet; the HEPv2 capture carries none.
func TestServe_AuthKey(t *testing.T) {
	hep3 := fixture.Load(t, fixture.HEP3)
	hep2 := fixture.Load(t, fixture.HEP2)
	key := hep3[0].Truth.AuthKey

	t.Run("right key stored, others counted", func(t *testing.T) {
		s := startTestServerWith(t, func(c *serveConfig) { c.HEPAuthKey = key })
		sendUDPInStep(t, s, hep2)
		sendTCP(t, s.col.TCPAddr(), hep3)
		got := waitStored(t, s, len(hep3))
		checkAgainstTruth(t, got, hep3)
		waitMetric(t, s, authDropped, uint64(len(hep2)))
	})
	t.Run("wrong key stores nothing", func(t *testing.T) {
		s := startTestServerWith(t, func(c *serveConfig) { c.HEPAuthKey = key + "-not" })
		sendUDPInStep(t, s, hep3)
		waitMetric(t, s, authDropped, uint64(len(hep3)))
		if got, _ := getPackets(t, s, "limit=10"); len(got) != 0 {
			t.Fatalf("unexpected stored packets; got %d; want 0", len(got))
		}
		if n := metric(t, s, "hepvault_queued_total"); n != 0 {
			t.Fatalf("unexpected queued count; got %d; want 0", n)
		}
	})
	t.Run("no key stores all", func(t *testing.T) {
		s := startTestServer(t)
		sendUDPInStep(t, s, hep2)
		waitStored(t, s, len(hep2))
		if n := metric(t, s, authDropped); n != 0 {
			t.Fatalf("unexpected auth drops; got %d; want 0", n)
		}
	})
}

// The key reaches the collector from the environment, through the real
// command line of `hepvault serve`.
func TestServe_AuthKeyFromEnvironment(t *testing.T) {
	hep3 := fixture.Load(t, fixture.HEP3)
	hep2 := fixture.Load(t, fixture.HEP2)
	udp := fmt.Sprintf("127.0.0.1:%d", livetest.FreePort(t))
	api := fmt.Sprintf("127.0.0.1:%d", livetest.FreePort(t))
	env := map[string]string{"HEPVAULT_HEP_AUTH_KEY": hep3[0].Truth.AuthKey}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--db", storetest.NewDatabase(t), "--data-dir", t.TempDir(),
			"--hep-udp", udp, "--hep-tcp", "", "--http", api}, func(k string) string { return env[k] }, io.Discard, &stderr)
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + api + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped at start: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer in 30s:\n%s", stderr.String())
		}
	}
	addr, err := net.ResolveUDPAddr("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	sendUDP(t, addr, hep2)
	sendUDP(t, addr, hep3)
	metrics := "http://" + api + "/metrics"
	deadline := time.Now().Add(20 * time.Second)
	for metricAt(t, metrics, "hepvault_stored_total") < uint64(len(hep3)) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := metricAt(t, metrics, "hepvault_stored_total"); got != uint64(len(hep3)) {
		t.Fatalf("unexpected stored count; got %d; want %d", got, len(hep3))
	}
	if got := metricAt(t, metrics, authDropped); got != uint64(len(hep2)) {
		t.Fatalf("unexpected auth drops; got %d; want %d (the HEPv2 packets)", got, len(hep2))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
}
