package spool

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"strings"
)

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

func mustOpen(t *testing.T, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// batch returns the bytes of a batch that names itself, padded so that a
// few batches fill a small segment.
func batch(name string) []byte {
	return append([]byte(name+"|"), make([]byte, 600)...)
}

// batchName reads back what batch wrote.
func batchName(data []byte) string {
	name, _, _ := strings.Cut(string(data), "|")
	return name
}

func mustAppend(t *testing.T, s *Spool, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := s.Append(batch(name), 3); err != nil {
			t.Fatalf("append %s: %v", name, err)
		}
	}
}

// drain reads and commits every batch, returning their names in order.
func drain(t *testing.T, s *Spool) []string {
	t.Helper()
	var names []string
	for {
		rec, ok, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return names
		}
		if rec.Packets != 3 || len(rec.Data) != len(batch(batchName(rec.Data))) {
			t.Fatalf("unexpected batch; got %d packets in %d bytes; want 3 in %d", rec.Packets, len(rec.Data), len(batch(batchName(rec.Data))))
		}
		name := batchName(rec.Data)
		names = append(names, name)
		if err := s.Commit(rec); err != nil {
			t.Fatal(err)
		}
	}
}

func checkNames(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("unexpected batches; got %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("unexpected batches; got %v; want %v", got, want)
		}
	}
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSpool_OrderAcrossSegments(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SegmentBytes = 1500 // about two batches per segment
	s := mustOpen(t, cfg)
	if !s.Empty() || s.Bytes() != 0 {
		t.Fatalf("a new spool is not empty: %d bytes", s.Bytes())
	}
	mustAppend(t, s, "a", "b", "c", "d", "e")
	if n := len(segFiles(t, cfg.Dir)); n < 3 {
		t.Fatalf("unexpected segment count; got %d; want at least 3", n)
	}
	if s.Empty() {
		t.Fatal("spool with batches says it is empty")
	}
	// Next without Commit gives the same batch again.
	r1, _, _ := s.Next()
	r2, _, _ := s.Next()
	if batchName(r1.Data) != "a" || batchName(r2.Data) != "a" {
		t.Fatalf("unexpected first batch; got %s then %s", batchName(r1.Data), batchName(r2.Data))
	}
	checkNames(t, drain(t, s), "a", "b", "c", "d", "e")
	if !s.Empty() || s.Bytes() != 0 || len(segFiles(t, cfg.Dir)) != 0 {
		t.Fatalf("drained spool keeps %d bytes in %v", s.Bytes(), segFiles(t, cfg.Dir))
	}
	// Appending after a drain works on a fresh segment.
	mustAppend(t, s, "f")
	checkNames(t, drain(t, s), "f")
	if st := s.Stats(); st.Appended != 6 || st.Skipped != 0 {
		t.Fatalf("unexpected stats %+v", st)
	}
}

func TestSpool_SurvivesRestart(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SegmentBytes = 1500
	s := mustOpen(t, cfg)
	mustAppend(t, s, "a", "b", "c", "d", "e")
	for range 3 { // commit a, b, c: the first segment goes
		rec, _, _ := s.Next()
		if err := s.Commit(rec); err != nil {
			t.Fatal(err)
		}
	}
	bytes := s.Bytes()
	s.Close()

	s = mustOpen(t, cfg)
	if s.Bytes() != bytes {
		t.Fatalf("unexpected size after reopening; got %d; want %d", s.Bytes(), bytes)
	}
	mustAppend(t, s, "f") // after what the last run left
	checkNames(t, drain(t, s), "d", "e", "f")
}

func TestSpool_DamagedCheckpointRepeats(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s := mustOpen(t, cfg)
	mustAppend(t, s, "g", "h")
	rec, _, _ := s.Next()
	s.Commit(rec)
	s.Close()
	if err := os.WriteFile(filepath.Join(cfg.Dir, cpName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	checkNames(t, drain(t, s), "g", "h")
}

func TestSpool_TornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(size int64) int64 // new size of the last segment
	}{
		{"cut in the payload", func(size int64) int64 { return size - 10 }},
		{"cut in the record header", nil}, // c's length and CRC half written
		{"only the magic", func(int64) int64 { return 5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			s := mustOpen(t, cfg)
			mustAppend(t, s, "a", "b")
			sizeAB := s.Bytes()
			mustAppend(t, s, "c")
			s.Close()
			segs := segFiles(t, cfg.Dir)
			last := segs[len(segs)-1]
			newSize := sizeAB + 3
			if tc.cut != nil {
				newSize = tc.cut(s.Bytes())
			}
			if err := os.Truncate(last, newSize); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg)
			got := drain(t, s)
			if tc.name == "only the magic" {
				checkNames(t, got)
			} else {
				checkNames(t, got, "a", "b")
			}
			if st := s.Stats(); st.Skipped != 1 {
				t.Fatalf("unexpected skipped count; got %d; want 1", st.Skipped)
			}
			if len(segFiles(t, cfg.Dir)) != 0 {
				t.Fatalf("torn segment not deleted after replay: %v", segFiles(t, cfg.Dir))
			}
		})
	}
}

func TestSpool_DamagedRecordSkipped(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s := mustOpen(t, cfg)
	mustAppend(t, s, "a")
	offB := s.Bytes()
	mustAppend(t, s, "b", "c")
	s.Close()
	seg := segFiles(t, cfg.Dir)[0]
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte in b's payload: its CRC no longer matches.
	if _, err := f.WriteAt([]byte{0xAA}, offB+recordHead+40); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s = mustOpen(t, cfg)
	checkNames(t, drain(t, s), "a", "c")
	if st := s.Stats(); st.Skipped != 1 {
		t.Fatalf("unexpected skipped count; got %d; want 1", st.Skipped)
	}
}

func TestSpool_Full(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s := mustOpen(t, cfg)
	mustAppend(t, s, "a")
	one := s.Bytes()
	s.Close()

	cfg.MaxBytes = 2*one - headerLen // room for two records in one segment
	s = mustOpen(t, cfg)
	checkNames(t, drain(t, s), "a")
	mustAppend(t, s, "b", "c")
	before := s.Bytes()
	if err := s.Append(batch("d"), 3); !errors.Is(err, ErrFull) {
		t.Fatalf("unexpected error appending past the cap; got %v; want ErrFull", err)
	}
	if s.Bytes() != before {
		t.Fatalf("a refused batch changed the size: %d -> %d", before, s.Bytes())
	}
	rec, _, _ := s.Next()
	s.Commit(rec) // b leaves the disk only with its segment
	if err := s.Append(batch("d"), 3); !errors.Is(err, ErrFull) {
		t.Fatalf("unexpected error; got %v; want ErrFull", err)
	}
	checkNames(t, drain(t, s), "c")
	mustAppend(t, s, "d")
	checkNames(t, drain(t, s), "d")
}

func TestSpool_MayBeStored(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s := mustOpen(t, cfg)
	f := func(want ...bool) {
		t.Helper()
		var got []bool
		for {
			rec, ok, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, rec.MayBeStored)
			s.Commit(rec)
		}
		if len(got) != len(want) {
			t.Fatalf("unexpected records; got %v; want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("unexpected MayBeStored; got %v; want %v", got, want)
			}
		}
	}
	if err := s.Append(batch("tried"), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendUnwritten(batch("fresh"), 2); err != nil {
		t.Fatal(err)
	}
	f(true, false)

	// What the last run left may have been written before it died.
	if err := s.AppendUnwritten(batch("left"), 2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, cfg)
	if err := s.AppendUnwritten(batch("new"), 2); err != nil {
		t.Fatal(err)
	}
	f(true, false)
}

// Overflow records, written without an fsync, come back in order among the
// others as records no one tried to write, and outlive a reopen (the
// process's end: the kernel holds what was written).
func TestSpool_OverflowRecords(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SegmentBytes = 1500
	s := mustOpen(t, cfg)
	if err := s.AppendOverflow(batch("x"), 3); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := s.Next()
	if err != nil || !ok || batchName(rec.Data) != "x" || rec.MayBeStored {
		t.Fatalf("unexpected record; got %q MayBeStored %v (ok %v, err %v); want x, false", batchName(rec.Data), rec.MayBeStored, ok, err)
	}
	if err := s.Commit(rec); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "a")
	for _, name := range []string{"b", "c", "d"} {
		if err := s.AppendOverflow(batch(name), 3); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(t, s, "e")
	s.Close()

	s = mustOpen(t, cfg)
	checkNames(t, drain(t, s), "a", "b", "c", "d", "e")
}
