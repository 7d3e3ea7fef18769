package store_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// BenchmarkWriteBatch writes one batch of 2000 realistic packets (the
// writer's default batch size) per op with the default config, as blocks
// (block_write.go), into a table that grows as the benchmark runs, with
// statistics (stats=on, as hepvault runs) and without: the difference is
// what statistics cost at ingest. PostgreSQL's CPU is part of the time: it
// runs on the same machine.
func BenchmarkWriteBatch(b *testing.B) {
	for _, stats := range []bool{true, false} {
		name := "stats=on"
		if !stats {
			name = "stats=off"
		}
		b.Run(name, func(b *testing.B) {
			db, dsn := benchDB(b)
			if !stats {
				store.DisableStats(db)
			}
			pkts := realisticPackets(b, "w", store.DefaultWriterConfig().BatchSize, time.Now().Add(-time.Hour), 100*time.Microsecond)
			w := store.NewWriter(db, store.DefaultWriterConfig())
			ctx := context.Background()
			if err := w.WriteBatch(ctx, pkts); err != nil { // partitions made outside the loop
				b.Fatal(err)
			}
			b.SetBytes(rawBytes(pkts))
			b.ReportAllocs()
			goCPU, pgCPU := cpuTime(), backendsCPU(b, dsn, nil)
			for b.Loop() {
				renumber(pkts) // (captured_at, id) is unique
				if err := w.WriteBatch(ctx, pkts); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N * len(pkts))
			b.ReportMetric(n/b.Elapsed().Seconds(), "packets/s")
			// CPU, not wall time, on a machine shared with other work.
			b.ReportMetric(float64(cpuTime()-goCPU)/1e3/n, "go-cpu-µs/packet")
			if pg := backendsCPU(b, dsn, pgCPU); pg[0] > 0 {
				b.ReportMetric(float64(pg[0])/1e3/n, "pg-cpu-µs/packet")
			}
		})
	}
}

// BenchmarkWriteBatch_Parallel is the same with one WriteBatch per core at
// once (pool connections), to show what several writers would gain.
func BenchmarkWriteBatch_Parallel(b *testing.B) {
	db, _ := benchDB(b)
	pkts := realisticPackets(b, "w", store.DefaultWriterConfig().BatchSize, time.Now().Add(-time.Hour), 100*time.Microsecond)
	w := store.NewWriter(db, store.DefaultWriterConfig())
	ctx := context.Background()
	if err := w.WriteBatch(ctx, pkts); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rawBytes(pkts))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mine := slices.Clone(pkts)
		for pb.Next() {
			renumber(mine)
			if err := w.WriteBatch(ctx, mine); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*len(pkts))/b.Elapsed().Seconds(), "packets/s")
}

// backendsCPU reads the CPU each client backend of the database at dsn
// (the store's pool) has used, by process id; given the figures of an
// earlier call as since, it returns at key 0 the CPU used since then.
func backendsCPU(b *testing.B, dsn string, since map[int]int64) map[int]int64 {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		b.Fatal(err)
	}
	out := map[int]int64{}
	for _, pid := range pids {
		out[pid] = procCPU(pid)
		if since != nil {
			out[0] += out[pid] - since[pid]
		}
	}
	return out
}

// procCPU is the user and system CPU process pid has used, in nanoseconds,
// from /proc (Linux, same machine); 0 when it cannot be read.
func procCPU(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return (utime + stime) * int64(time.Second/100) // USER_HZ: 100 on Linux
}

// cpuTime is the user and system CPU this process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

var lastID atomic.Int64

// renumber gives pkts ids no batch had before.
func renumber(pkts []hepvault.Packet) {
	base := lastID.Add(int64(len(pkts))) - int64(len(pkts))
	for i := range pkts {
		pkts[i].ID = 1<<40 + base + int64(i)
	}
}
