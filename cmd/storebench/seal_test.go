package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/hepvault/hepvault/store/storetest"
)

// seal seals a seeded past day and verifies it, finding nothing.
func TestSeedThenSeal(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"seed", "-db", dsn, "-n", "3000", "-days", "1", "-batch", "1000", "-end", "2026-12-01T00:00:00Z"}, &out, &errOut); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut.String())
	}
	out.Reset()
	if err := run(ctx, []string{"seal", "-db", dsn}, &out, &errOut); err != nil {
		t.Fatalf("seal: %v\n%s", err, errOut.String())
	}
	for _, re := range []string{`sealed [12] days, 3000 packets in`, `verified [12] days \([12] sealed\), 3000 packets in .*, 0 differences`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Fatalf("unexpected seal output %q; want %s", out.String(), re)
		}
	}
}
