//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/diskspace"
)

// smallFS makes an ext4 filesystem of size bytes in a file, mounts it and
// returns the mount point; the test's end unmounts and removes it. It needs
// root (mount).
func smallFS(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a small filesystem (mount -o loop) and must run as root")
	}
	dir := t.TempDir()
	// The server runs as the postgres user and must pass through.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err == nil {
		err = errors.Join(f.Truncate(size), f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount -o loop %s: %v: %s", img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// bulkyHEP returns n HEPv3 packets of about 4 KiB each, an INVITE whose body
// is random hex (LZ4 cannot shrink it), Call-IDs prefix-0..., captured from
// start a millisecond apart.
func bulkyHEP(prefix string, n int, start time.Time) [][]byte {
	raw := make([]byte, 2000)
	return hepInvites(prefix, n, start, time.Millisecond, "TCP", func(int) string {
		rand.Read(raw)
		return hex.EncodeToString(raw)
	})
}

type readyBody struct {
	Writing string `json:"writing"`
	Disk    string `json:"disk"`
}

func getReady(t *testing.T, s *server) (int, readyBody) {
	t.Helper()
	resp, err := http.Get(s.url("/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b readyBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// hepvault on a 192 MiB filesystem, fed 24 days of traffic, about 240 MB:
// the guard drops the oldest days so that PostgreSQL never meets a full
// disk, the newest days stay whole; once nothing but today is left and
// space is still short, new packets are dropped and counted, /readyz says
// so, and writing resumes when space comes back.
func TestServe_DiskGuardOnSmallFilesystem(t *testing.T) {
	mnt := smallFS(t, 192<<20)
	dataDir := filepath.Join(mnt, "data")
	logs := &lockedBuffer{}
	cfg := serveConfig{
		DataDir: dataDir, HEPTCP: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		ShutdownTimeout: 20 * time.Second, SpoolMaxBytes: 64 << 20,
		// At ~17 MB/s of packets (and as much WAL, which grows by 16 MB
		// segments), 20% of 174 MiB leaves the guard room for a few checks
		// and a drop.
		Retention: retentionConfig{MinFree: minFree{Fraction: 0.20}, CheckEvery: 100 * time.Millisecond},
	}
	s, err := startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("hepvault log:\n%s\nwriter: %+v\ncollector dropped %d, queued %d", logs.String(), s.writer.Stats(),
				s.col.Metrics().DroppedTotal(), s.col.QueueLen())
		}
	})
	dsn := s.pg.DSN()

	// The lowest free space seen while feeding: PostgreSQL must never get
	// near a full disk.
	lowest := int64(1 << 62)
	stopWatch := make(chan struct{})
	var watched sync.WaitGroup
	watched.Add(1)
	go func() {
		defer watched.Done()
		for {
			if u, err := diskspace.Of(mnt); err == nil && u.Free < lowest {
				lowest = u.Free
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	conn, err := net.Dial("tcp", s.col.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const days, perDay = 24, 2500
	now := time.Now().UTC()
	start := time.Now()
	for d := days - 1; d >= 0; d-- {
		at := now.Add(-time.Duration(d)*24*time.Hour - time.Hour)
		if d == 0 {
			at = now.Add(-5 * time.Second)
		}
		if _, err := pacedSend(conn, bulkyHEP(fmt.Sprintf("d%d", d), perDay, at), 4000); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "every packet stored or refused", func() bool {
		ws := s.writer.Stats()
		return ws.Stored+ws.Expired+ws.DiskFull >= days*perDay
	})
	close(stopWatch)
	watched.Wait()
	u, _ := diskspace.Of(mnt)
	t.Logf("fed %d packets (~%d MB) in %.1f s; lowest free space %.1f MiB of %.1f MiB",
		days*perDay, days*perDay*4200>>20, time.Since(start).Seconds(), float64(lowest)/(1<<20), float64(u.Total)/(1<<20))

	if dropped := s.col.Metrics().DroppedTotal(); dropped != 0 {
		t.Fatalf("unexpected packets dropped by the collector; got %d; want 0", dropped)
	}
	// The oldest days are gone, whole; the newest are whole.
	gone := 0
	for d := days - 1; d >= 0; d-- {
		rows, _ := countCalls(t, dsn, fmt.Sprintf("d%d", d))
		switch {
		case rows == 0 && gone == days-1-d:
			gone++
		case rows != perDay:
			t.Fatalf("unexpected packets of day -%d; got %d; want %d (or 0 for the oldest days; %d gone before)", d, rows, perDay, gone)
		}
	}
	if gone < 3 || gone > days-3 {
		t.Fatalf("unexpected days dropped; got %d of %d; want the oldest ones, the newest three kept", gone, days)
	}
	t.Logf("%d oldest days of %d dropped for space, the newest %d kept whole", gone, days, days-gone)
	if got := metric(t, s, `hepvault_retention_dropped_partitions_total{reason="disk"}`); got != uint64(gone) {
		t.Fatalf("unexpected days dropped for disk; got %d; want %d", got, gone)
	}
	if got := metric(t, s, `hepvault_retention_refused_total{reason="disk_full"}`); got != 0 {
		t.Fatalf("unexpected packets refused; got %d; want 0 while days could be dropped", got)
	}
	if code, b := getReady(t, s); code != http.StatusOK || b.Writing != "on" || !strings.Contains(b.Disk, "oldest day, for space") {
		t.Fatalf("unexpected /readyz after drops; got %d %+v; want 200, writing on, saying a day was dropped for space", code, b)
	}

	// Something else takes the disk: every old day goes, then writing stops.
	junk := filepath.Join(mnt, "junk")
	f, err := os.Create(junk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var junkSize int64
	waitUntil(t, 30*time.Second, "the guard to pause writing", func() bool {
		if s.retention.Paused() {
			return true
		}
		u, err := diskspace.Of(mnt)
		if err != nil {
			t.Fatal(err)
		}
		if more := u.Free - u.Total/20; more > 0 {
			junkSize += more
			if err := syscall.Fallocate(int(f.Fd()), 0, 0, junkSize); err != nil {
				t.Fatalf("fallocate %d: %v", junkSize, err)
			}
		}
		return false
	})
	code, b := getReady(t, s)
	if code != http.StatusServiceUnavailable || b.Writing != "paused" || !strings.Contains(b.Disk, "only today's partition is left") {
		t.Fatalf("unexpected /readyz while paused; got %d %+v; want 503, paused, saying why", code, b)
	}
	for d := 1; d < days; d++ {
		if rows, _ := countCalls(t, dsn, fmt.Sprintf("d%d", d)); rows != 0 {
			t.Fatalf("unexpected packets of day -%d left while paused; got %d; want 0", d, rows)
		}
	}
	if _, err := pacedSend(conn, hepTraffic("paused", 100), 1000); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, s, `hepvault_retention_refused_total{reason="disk_full"}`, 100)
	if rows, _ := countCalls(t, dsn, "paused"); rows != 0 {
		t.Fatalf("unexpected packets stored while paused; got %d; want 0", rows)
	}

	// Space comes back: writing resumes.
	f.Close()
	if err := os.Remove(junk); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "/readyz to answer 200 again", func() bool {
		code, _ := getReady(t, s)
		return code == http.StatusOK
	})
	if _, err := pacedSend(conn, hepTraffic("resumed", 100), 1000); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "packets stored after resuming", func() bool {
		rows, _ := countCalls(t, dsn, "resumed")
		return rows == 100
	})
	if rows, _ := countCalls(t, dsn, "d0"); rows != perDay {
		t.Fatalf("unexpected packets of today; got %d; want %d", rows, perDay)
	}

	pglog, err := os.ReadFile(filepath.Join(dataDir, "postgresql.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"No space left on device", "could not extend", "could not write", "PANIC"} {
		if strings.Contains(string(pglog), bad) {
			t.Fatalf("PostgreSQL's log says %q:\n%s", bad, tail(string(pglog), 40))
		}
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && !strings.Contains(l, "only today's partition left") {
			t.Fatalf("unexpected error in hepvault's log: %s", l)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
