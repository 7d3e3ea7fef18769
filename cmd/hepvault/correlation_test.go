package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hepvault/hepvault/collector/sip"
)

func TestCorrelationFlag(t *testing.T) {
	var hs []sip.CorrelationHeader
	f := correlationFlag{&hs}
	if err := f.Set("P-Charging-Vector;icid-value, X-Leg"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("X-Other"); err != nil {
		t.Fatal(err)
	}
	want := []sip.CorrelationHeader{{Name: "p-charging-vector", Param: "icid-value"}, {Name: "x-leg"}, {Name: "x-other"}}
	if !slices.Equal(hs, want) || f.String() != "p-charging-vector;icid-value,x-leg,x-other" {
		t.Fatalf("unexpected headers %v (%s); want %v", hs, f.String(), want)
	}
	if err := f.Set("X-Leg,"); err == nil {
		t.Fatal("an empty name in the list: unexpected success")
	}
	var out, errOut strings.Builder
	err := run(t.Context(), []string{"serve", "--correlation-header", "X Leg"}, func(string) string { return "" }, &out, &errOut)
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("serve --correlation-header 'X Leg': unexpected %v; want a usage error", err)
	}
}
