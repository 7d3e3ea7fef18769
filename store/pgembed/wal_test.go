package pgembed

import (
	"strconv"
	"testing"

	"github.com/hepvault/hepvault/internal/diskspace"
)

func TestSizeMB(t *testing.T) {
	f := func(in string, want int64, wantOK bool) {
		t.Helper()
		got, ok := sizeMB(in, 7)
		if got != want || ok != wantOK {
			t.Fatalf("unexpected size of %q; got %d, %v; want %d, %v", in, got, ok, want, wantOK)
		}
	}
	f("", 7, true)
	f("1GB", 1024, true)
	f("256MB", 256, true)
	f("64", 64, true)
	f("65536kB", 64, true)
	f("1TB", 0, false)
	f("lots", 0, false)
}

func TestBoundWAL(t *testing.T) {
	dir := t.TempDir()
	u, err := diskspace.Of(dir)
	if err != nil {
		t.Fatal(err)
	}
	capMB := max(u.Total/8>>20, walFloorMB)
	// A setting above the cap is lowered to it; one below stays.
	s := map[string]string{"max_wal_size": "1000000GB"}
	if boundWAL(s, dir) == 0 || s["max_wal_size"] != strconv.FormatInt(capMB, 10)+"MB" {
		t.Fatalf("unexpected max_wal_size; got %q; want %dMB", s["max_wal_size"], capMB)
	}
	if min, _ := sizeMB(s["min_wal_size"], defaultMinWALMB); min > capMB {
		t.Fatalf("unexpected min_wal_size %q above max_wal_size %dMB", s["min_wal_size"], capMB)
	}
	s = map[string]string{"max_wal_size": "32MB"}
	if boundWAL(s, dir) != 0 || s["max_wal_size"] != "32MB" {
		t.Fatalf("unexpected change of a small max_wal_size; got %q", s["max_wal_size"])
	}
}
