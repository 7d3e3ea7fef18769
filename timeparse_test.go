package hepvault

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTime_Success(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got, err := ParseTime(in)
		if err != nil {
			t.Fatalf("ParseTime(%q): unexpected error: %v", in, err)
		}
		w, _ := time.Parse(time.RFC3339Nano, want)
		if !got.Equal(w) || got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q): unexpected time; got %s; want %s", in, got.Format(time.RFC3339Nano), want)
		}
	}
	f("2026-11-25T12:20:33Z", "2026-11-25T12:20:33Z")
	f("2026-11-25T12:20:33.258647+01:00", "2026-11-25T11:20:33.258647Z")
	f("2026-11-25 12:20:33-05:00", "2026-11-25T17:20:33Z")
	f("1795609948", "2026-11-25T12:32:28Z")
	f("1795609948.258647", "2026-11-25T12:32:28.258647Z")
	f("1795609948.5", "2026-11-25T12:32:28.5Z")
	f("Wed Nov 25 12:20:33 UTC 2026", "2026-11-25T12:20:33Z")
	f("  Wed Nov 25 12:20:33 UTC 2026\n", "2026-11-25T12:20:33Z")
	f("Wed Nov  5 12:20:33 UTC 2026", "2026-11-05T12:20:33Z")
	f("Wed Nov 25 12:20:33 CET 2026", "2026-11-25T11:20:33Z")
	f("Sat Jul  4 09:00:00 CEST 2026", "2026-07-04T07:00:00Z")
	f("Wed Nov 25 07:20:33 EST 2026", "2026-11-25T12:20:33Z")
	f("Wed Nov 25 12:20:33 PM UTC 2026", "2026-11-25T12:20:33Z")
	f("Wed 25 Nov 12:20:33 GMT 2026", "2026-11-25T12:20:33Z")
	f("Wed 25 Nov 2026 01:20:33 PM CET", "2026-11-25T12:20:33Z")
	f("Wed, 25 Nov 2026 12:20:33 +0100", "2026-11-25T11:20:33Z")
	f("Wed Nov 25 17:50:33 IST 2026", "2026-11-25T12:20:33Z")
}

func TestParseTime_Failure(t *testing.T) {
	f := func(in, wantInMessage string) {
		t.Helper()
		_, err := ParseTime(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), wantInMessage) {
			t.Fatalf("ParseTime(%q): unexpected error; got %v; want ErrInvalid saying %q", in, err, wantInMessage)
		}
	}
	f("", "empty")
	f("yesterday", "is not RFC 3339")
	f("2026-11-25T12:20:33", "no zone")
	f("2026-11-25 12:20:33", "no zone")
	f("Wed Nov 25 12:20:33 2026", "no zone")
	f("Wed Nov 25 12:20:33 XYZ 2026", `zone "XYZ"`)
	f("2026-13-25T12:20:33Z", "is not RFC 3339")
	f("1795609948.1234567891", "is not RFC 3339") // more than nanoseconds
	f("Wed Nov 32 12:20:33 UTC 2026", "is not RFC 3339")
}
