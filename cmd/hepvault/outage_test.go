package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOutage runs the crash and shutdown checks on one PostgreSQL of their
// own (starting a cluster costs seconds), which they kill and restart. Each
// check uses its own Call-ID prefix.
func TestOutage(t *testing.T) {
	pg := startPostgres(t)
	t.Run("postgres killed mid-stream", func(t *testing.T) { testPostgresKilledMidStream(t, pg) })
	t.Run("hepvault killed while database down", func(t *testing.T) { testHepvaultKilledWhileDatabaseDown(t, pg) })
	t.Run("sigterm mid-stream", func(t *testing.T) { testSIGTERMMidStream(t, pg.DSN()) })
	t.Run("sigterm while database down", func(t *testing.T) { testSIGTERMWhileDatabaseDown(t, pg) })
	t.Run("started while database down", func(t *testing.T) { testStartedWhileDatabaseDown(t, pg) })
	t.Run("wrong database is fatal", func(t *testing.T) { testWrongDatabaseFatal(t, pg) })
}

// testPostgresKilledMidStream streams HEP over TCP at a steady pace, kills
// PostgreSQL (SIGKILL) in the middle, starts it again, and finds every
// packet stored exactly once: on a lossless TCP stream, sent = stored.
func testPostgresKilledMidStream(t *testing.T, pg *outagePG) {
	cfg := serveConfig{
		DB: pg.DSN(), HEPUDP: "", HEPTCP: "127.0.0.1:0", HTTP: "127.0.0.1:0", ShutdownTimeout: 20 * time.Second,
		SpoolDir: t.TempDir(), SpoolMaxBytes: 1 << 30,
	}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()

	const n, rate = 20000, 4000 // 5 s of traffic
	traffic := hepTraffic("kill-pg", n)
	conn, err := net.Dial("tcp", s.col.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sent := make(chan int, 1)
	go func() {
		k, err := pacedSend(conn, traffic, rate)
		if err != nil {
			t.Errorf("send: %v", err)
		}
		sent <- k
	}()

	time.Sleep(time.Second)
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	// Away longer than the writer's retry window, so batches go to the spool.
	waitUntil(t, 10*time.Second, "batches spooled", func() bool { return s.writer.Stats().Spooled > 0 })
	time.Sleep(500 * time.Millisecond)
	pg.restart(t)

	k := <-sent
	if k != n {
		t.Fatalf("unexpected sent count; got %d; want %d", k, n)
	}
	waitUntil(t, 20*time.Second, "every packet stored", func() bool {
		return s.writer.Stats().Stored >= n && s.spool.Empty()
	})
	rows, distinct := countCalls(t, pg.DSN(), "kill-pg")
	m, ws := s.col.Metrics(), s.writer.Stats()
	t.Logf("sent %d, received %d, stored %d rows (%d call ids), spooled %d, replayed %d, retries %d, dropped %d",
		n, m.TCPFrames.Load(), rows, distinct, ws.Spooled, ws.Replayed, ws.Retries, m.DroppedTotal())
	if rows != n || distinct != n {
		t.Fatalf("unexpected stored packets; got %d rows, %d call ids; want %d each", rows, distinct, n)
	}
	if m.TCPFrames.Load() != n || m.DroppedTotal() != 0 || ws.Stored != n || ws.Replayed != ws.Spooled || ws.SpoolDropped != [2]uint64{} {
		t.Fatalf("counters do not add up: received %d, dropped %d, %+v", m.TCPFrames.Load(), m.DroppedTotal(), ws)
	}
}

// testHepvaultKilledWhileDatabaseDown: with PostgreSQL down, what hepvault
// received is in its spool; SIGKILL it, start PostgreSQL and hepvault
// again, and everything spooled is written, once.
func testHepvaultKilledWhileDatabaseDown(t *testing.T, pg *outagePG) {
	spoolDir := t.TempDir()
	args := []string{"--db", pg.DSN(), "--hep-udp", "", "--hep-tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--spool-dir", spoolDir}
	hv := startHepvault(t, args...)
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}

	const n = 5000
	conn, err := net.Dial("tcp", hv.hepTCP)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := pacedSend(conn, hepTraffic("kill-hv", n), 5000); err != nil || k != n {
		t.Fatalf("sent %d of %d: %v", k, n, err)
	}
	waitUntil(t, 15*time.Second, "every packet spooled", func() bool { return hv.metric(t, "hepvault_spooled_total") == n })
	if got := hv.metric(t, `hepvault_received_total{transport="tcp"}`); got != n {
		t.Fatalf("unexpected received count; got %d; want %d", got, n)
	}
	if code := hv.signal(t, syscall.SIGKILL, 10*time.Second); code != -1 {
		t.Fatalf("unexpected exit code after SIGKILL: %d", code)
	}
	conn.Close()
	if segs, _ := filepath.Glob(filepath.Join(spoolDir, "*.seg")); len(segs) == 0 {
		t.Fatal("no spool segments left by the killed hepvault")
	}

	pg.restart(t)
	hv = startHepvault(t, args...)
	waitUntil(t, 15*time.Second, "the spool replayed", func() bool { return hv.metric(t, "hepvault_spool_bytes") == 0 })
	rows, distinct := countCalls(t, pg.DSN(), "kill-hv")
	if rows != n || distinct != n {
		t.Fatalf("unexpected stored packets after the restart; got %d rows, %d call ids; want %d each", rows, distinct, n)
	}
	if got := hv.metric(t, "hepvault_replayed_total"); got != n {
		t.Fatalf("unexpected replayed count; got %d; want %d", got, n)
	}
	if code := hv.signal(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("unexpected exit code after SIGTERM: %d\n%s", code, hv.log())
	}
}

// testSIGTERMMidStream: SIGTERM while HEP streams in over UDP and TCP;
// hepvault exits 0 and every packet it received is stored.
func testSIGTERMMidStream(t *testing.T, dsn string) {
	hv := startHepvault(t, "--db", dsn, "--hep-udp", "127.0.0.1:0", "--hep-tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--spool-dir", t.TempDir())
	tcp, err := net.Dial("tcp", hv.hepTCP)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.Dial("udp", hv.hepUDP)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	const n = 10000 // more than is sent before the signal
	done := make(chan int, 2)
	for _, c := range []struct {
		conn   net.Conn
		prefix string
	}{{tcp, "sigterm-tcp"}, {udp, "sigterm-udp"}} {
		traffic := hepTraffic(c.prefix, n)
		go func() {
			k, _ := pacedSend(c.conn, traffic, 3000)
			done <- k
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if code := hv.signal(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("unexpected exit code after SIGTERM: %d\n%s", code, hv.log())
	}
	sent := <-done + <-done
	received := hv.logValue(t, "stopped", "received")
	stored := hv.logValue(t, "stopped", "stored")
	rows, distinct := countCalls(t, dsn, "sigterm")
	t.Logf("sent %d, received %d, stored %d (%d rows, %d call ids)", sent, received, stored, rows, distinct)
	if received == 0 || int64(rows) != received || int64(distinct) != received || stored != received {
		t.Fatalf("packets received before SIGTERM lost: received %d, stored %d rows (%d call ids)", received, rows, distinct)
	}
}

// testSIGTERMWhileDatabaseDown: SIGTERM mid-stream with PostgreSQL down and
// a shutdown timeout shorter than the writer's retry window: hepvault exits
// 0 with what it received in the spool, and the next start writes it.
func testSIGTERMWhileDatabaseDown(t *testing.T, pg *outagePG) {
	spoolDir := t.TempDir()
	args := []string{"--db", pg.DSN(), "--hep-udp", "", "--hep-tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--spool-dir", spoolDir, "--shutdown-timeout", "500ms"}
	hv := startHepvault(t, args...)
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", hv.hepTCP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	traffic := hepTraffic("sigterm-down", 10000)
	done := make(chan int, 1)
	go func() {
		k, _ := pacedSend(conn, traffic, 4000)
		done <- k
	}()
	time.Sleep(500 * time.Millisecond)
	if code := hv.signal(t, syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Fatalf("unexpected exit code after SIGTERM: %d\n%s", code, hv.log())
	}
	sent := <-done
	received, spooled := hv.logValue(t, "stopped", "received"), hv.logValue(t, "stopped", "spooled")
	t.Logf("sent %d, received %d, spooled %d", sent, received, spooled)
	if received == 0 || spooled != received {
		t.Fatalf("packets received before SIGTERM not spooled: received %d, spooled %d", received, spooled)
	}
	if !strings.Contains(hv.log(), "the rest is in the spool") {
		t.Fatalf("the shutdown timeout did not send the rest to the spool:\n%s", hv.log())
	}

	pg.restart(t)
	hv = startHepvault(t, args...)
	waitUntil(t, 15*time.Second, "the spool replayed", func() bool { return hv.metric(t, "hepvault_spool_bytes") == 0 })
	if rows, distinct := countCalls(t, pg.DSN(), "sigterm-down"); int64(rows) != received || int64(distinct) != received {
		t.Fatalf("unexpected stored packets after the restart; got %d rows, %d call ids; want %d each", rows, distinct, received)
	}
	hv.signal(t, syscall.SIGTERM, 15*time.Second)
}
