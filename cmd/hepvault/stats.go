package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hepvault/hepvault"
)

func runStats(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	from := fs.String("from", "", "start of the window (RFC 3339, unix seconds, or date output); rounded down to a step")
	to := fs.String("to", "", "end of the window, exclusive; rounded up to a step")
	step := fs.String("step", "1h", "width of a row: 1m, 5m, 1h or 1d (UTC)")
	by := fs.String("by", "", "count packets by method (requests), status (responses), status_class, kind, capture_id or pair")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "API token, when hepvault serve has --api-token (env HEPVAULT_API_TOKEN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for name, v := range map[string]string{"from": *from, "to": *to} {
		if v == "" {
			return usagef("--%s is missing: stats need a window, --from and --to", name)
		}
	}
	q, err := windowQuery(*from, *to, nil)
	if err != nil {
		return err
	}
	if *by == "" {
		return usagef("--by is missing: method, status, status_class, kind, capture_id or pair")
	}
	q.Set("step", *step)
	q.Set("by", *by)
	body, err := get(ctx, strings.TrimRight(*server, "/")+"/api/v1/stats?"+q.Encode(), *token)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err = stdout.Write(body)
		return err
	}
	var a statsAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("hepvault answered what is not statistics: %w", err)
	}
	return writeStatsTable(stdout, a)
}

type statsAnswer struct {
	Series []hepvault.StatsSeries `json:"series"`
}

// writeStatsTable prints a row per step and a column per key, most
// frequent first, as the API orders them.
func writeStatsTable(w io.Writer, a statsAnswer) error {
	if len(a.Series) == 0 {
		_, err := io.WriteString(w, "nothing counted in this window\n")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := []string{"time"}
	for _, s := range a.Series {
		row = append(row, s.Key)
	}
	fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	for i, p := range a.Series[0].Points {
		row = append(row[:0], p.T.UTC().Format(time.RFC3339))
		for _, s := range a.Series {
			n := int64(0)
			if i < len(s.Points) {
				n = s.Points[i].Count
			}
			row = append(row, strconv.FormatInt(n, 10))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}
