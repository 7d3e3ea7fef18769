package loadgen

import (
	"strings"
	"testing"
)

func TestParseMetricsAndDelta(t *testing.T) {
	before, err := ParseMetrics(strings.NewReader("# HELP x\nhepvault_dropped_total{reason=\"queue_full\"} 3\nhepvault_stored_total 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ParseMetrics(strings.NewReader("hepvault_dropped_total{reason=\"queue_full\"} 10\nhepvault_stored_total 10\nhepvault_dropped_total{reason=\"not_hep\"} 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Delta(before, after, "dropped")
	if len(d) != 2 || d[0].Series != `hepvault_dropped_total{reason="not_hep"}` || d[0].By != 1 || d[1].By != 7 {
		t.Fatalf("unexpected delta; got %+v", d)
	}
}
