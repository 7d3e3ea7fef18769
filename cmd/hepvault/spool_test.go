package main

import (
	"errors"
	"io"
	"testing"
)

func TestParseBytes_Success(t *testing.T) {
	f := func(in string, want int64) {
		t.Helper()
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Fatalf("parseBytes(%q): unexpected result; got %d, %v; want %d", in, got, err, want)
		}
	}
	f("0", 0)
	f("1048576", 1<<20)
	f("512M", 512<<20)
	f("1G", 1<<30)
	f("64KiB", 64<<10)
	f(" 2 GiB", 2<<30)
}

func TestParseBytes_Failure(t *testing.T) {
	f := func(in string) {
		t.Helper()
		_, err := parseBytes(in)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("parseBytes(%q): unexpected error; got %v; want a usage error", in, err)
		}
	}
	f("")
	f("-1")
	f("1T")
	f("1.5G")
	f("G")
	f("99999999999G")
}

func TestServe_BadSpoolSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flag", []string{"serve", "--spool-max-bytes", "lots"}, nil},
		{"environment", []string{"serve"}, map[string]string{"HEPVAULT_SPOOL_MAX_BYTES": "lots"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), tc.args, func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("unexpected error; got %v; want a usage error", err)
			}
		})
	}
}
