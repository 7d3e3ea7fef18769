package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Samples maps a Prometheus series ("name{labels}") to its value.
type Samples map[string]float64

// ScrapeMetrics reads a Prometheus text page (hepvault's /metrics).
func ScrapeMetrics(ctx context.Context, url string) (Samples, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadgen: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadgen: scrape %s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads the sample lines of the Prometheus text format.
func ParseMetrics(r io.Reader) (Samples, error) {
	s := Samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue // a timestamp column or junk: not a plain sample
		}
		s[strings.TrimSpace(line[:i])] = v
	}
	return s, sc.Err()
}

// Delta is after minus before for the series whose name contains one of
// the words, sorted by series; series with no change are left out.
func Delta(before, after Samples, words ...string) []Change {
	var out []Change
	for k, v := range after {
		match := len(words) == 0
		for _, w := range words {
			if strings.Contains(k, w) {
				match = true
			}
		}
		if d := v - before[k]; match && d != 0 {
			out = append(out, Change{k, d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Series < out[j].Series })
	return out
}

// Change is how much one series moved during a run.
type Change struct {
	Series string
	By     float64
}
