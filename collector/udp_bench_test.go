//go:build linux

package collector

import (
	"io"
	"log/slog"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkUDPReceive is the UDP receive path on a real loopback socket:
// the collector's readers, decode and queue, drained as the writer would.
// Paced30k offers 30,000 packets/s, the rate of issue 4, and reports the
// CPU per packet of everything but the sender (recv-cpu-ns/pkt): there the
// cost is in wake-ups, not in reading. Burst sends as fast as
// one sender can, waiting for the readers every 512 packets.
func BenchmarkUDPReceive(b *testing.B) {
	b.Run("Paced30k", func(b *testing.B) { benchUDPReceive(b, 30000) })
	b.Run("Burst", func(b *testing.B) { benchUDPReceive(b, 0) })
}

func benchUDPReceive(b *testing.B, rate int) {
	grams := loadgenPackets(4096)
	c := New(Config{UDPAddr: "127.0.0.1:0", UDPReadBuffer: 16 << 20, QueueSize: 1 << 16,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := c.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range c.Packets() {
		}
		close(done)
	}()
	defer func() { c.Stop(); <-done }()
	conn, err := net.Dial("udp", c.UDPAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m := c.Metrics()
	waitRead := func(n int) {
		for deadline := time.Now().Add(10 * time.Second); int(m.UDPDatagrams.Load()) < n; {
			if time.Now().After(deadline) {
				drops, _ := m.UDPKernelDrops()
				b.Fatalf("read %d of %d datagrams; kernel drops %d", m.UDPDatagrams.Load(), n, drops)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	// Pacing sends a tick's share every millisecond.
	perTick := rate / 1000
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.SetBytes(meanLen(grams))
	b.ReportAllocs()
	// The sender keeps one thread so its own CPU can be taken out.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, send0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(rusageThread)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := conn.Write(grams[i%len(grams)]); err != nil {
			b.Fatal(err)
		}
		switch {
		case rate > 0 && (i+1)%perTick == 0:
			<-tick.C
		case rate == 0 && (i+1)%512 == 0:
			waitRead(i + 1)
		}
	}
	waitRead(b.N)
	b.StopTimer()
	send := cpuTime(rusageThread) - send0
	b.ReportMetric(float64(cpuTime(syscall.RUSAGE_SELF)-cpu0-send)/float64(b.N), "recv-cpu-ns/pkt")
	if d := m.DroppedTotal(); d > 0 {
		b.Fatalf("%d packets dropped", d)
	}
}

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's CPU.
const rusageThread = 1

// cpuTime is the CPU used by the process or the thread, user and system.
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
