package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/store"
)

// The commands of issue 13's audit: coverage, access-log and token.

func runCoverage(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("coverage", stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	from := fs.String("from", "", "start of the window (RFC 3339, unix seconds, or date output)")
	to := fs.String("to", "", "end of the window, exclusive")
	gap := fs.Duration("gap", api.DefaultGap, "an agent sending nothing for longer than this, between two of its packets, was silent")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of text")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "API token (env HEPVAULT_API_TOKEN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for name, v := range map[string]string{"from": *from, "to": *to} {
		if v == "" {
			return usagef("--%s is missing: coverage needs a window, --from and --to", name)
		}
	}
	q, err := windowQuery(*from, *to, nil)
	if err != nil {
		return err
	}
	q.Set("gap", gap.String())
	body, err := get(ctx, strings.TrimRight(*server, "/")+"/api/v1/coverage?"+q.Encode(), *token)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err = stdout.Write(body)
		return err
	}
	var cv store.Coverage
	if err := json.Unmarshal(body, &cv); err != nil {
		return fmt.Errorf("hepvault answered what is not a coverage: %w", err)
	}
	return writeCoverage(stdout, cv)
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func writeCoverage(w io.Writer, cv store.Coverage) error {
	verdict := "complete"
	if !cv.Complete {
		verdict = fmt.Sprintf("NOT complete (%d reasons)", len(cv.Reasons))
	}
	fmt.Fprintf(w, "window   %s to %s\nverdict  %s\n", ts(cv.From), ts(cv.To), verdict)
	for _, r := range cv.Reasons {
		fmt.Fprintf(w, "  %-14s %s to %s  %s\n", r.Kind, ts(r.From), ts(r.To), r.Detail)
	}
	fmt.Fprintln(w, "\nagents")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAPTURE_ID\tFIRST\tLAST\tPACKETS\tSILENT GAPS")
	for _, a := range cv.Agents {
		gaps := []string{}
		for _, g := range a.Gaps {
			gaps = append(gaps, ts(g.From)+" to "+ts(g.To))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", a.CaptureID, ts(a.First), ts(a.Last), a.Packets, strings.Join(append(gaps, "-")[:max(len(gaps), 1)], ", "))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nhepvault")
	for _, r := range cv.Running {
		fmt.Fprintf(w, "  running   %s to %s  %s\n", ts(r.From), ts(r.To), r.Node)
	}
	for _, d := range cv.Drops {
		fmt.Fprintf(w, "  dropped   %s to %s  %s: %d %s\n", ts(d.From), ts(d.To), d.Node, d.Packets, d.Reason)
	}
	for _, s := range cv.Spool {
		fmt.Fprintf(w, "  spool     %s to %s  %s: %d spooled\n", ts(s.From), ts(s.To), s.Node, s.Spooled)
	}
	for _, o := range cv.Outages {
		fmt.Fprintf(w, "  db down   %s to %s  %s: %d lost, %d spooled\n", ts(o.From), ts(o.To), o.Node, o.Dropped, o.Spooled)
	}
	return nil
}

// coverageWarning returns the line hepvault query prints on stderr when
// the window it answers is not complete; "" when it is, or when the server
// cannot say (an older server, or a token without the read role for it).
func coverageWarning(ctx context.Context, base string, q url.Values, token string) string {
	from, to := q.Get("from"), q.Get("to")
	if from == "" {
		return "" // no window: a call or a filter over all time
	}
	if to == "" {
		to = time.Now().UTC().Format(time.RFC3339Nano)
	}
	cq := url.Values{"from": {from}, "to": {to}}
	body, err := get(ctx, base+"/api/v1/coverage?"+cq.Encode(), token)
	if err != nil {
		return ""
	}
	var cv store.Coverage
	if json.Unmarshal(body, &cv) != nil || cv.Complete {
		return ""
	}
	parts := []string{}
	for i, r := range cv.Reasons {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(cv.Reasons)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s to %s (%s)", r.Kind, ts(r.From), ts(r.To), r.Detail))
	}
	return "warning: this window is not complete, its answer cannot be trusted to hold every packet: " + strings.Join(parts, "; ") +
		" (hepvault coverage --from ... --to ... says more)"
}

func runAccessLog(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("access-log", stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	from := fs.String("from", "", "start of the window (RFC 3339, unix seconds, or date output)")
	to := fs.String("to", "", "end of the window, exclusive")
	name := fs.String("name", "", "only the requests of this token")
	limit := fs.Int("limit", 1000, "at most this many rows, oldest first (at most 10000)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "an admin API token (env HEPVAULT_API_TOKEN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for n, v := range map[string]string{"from": *from, "to": *to} {
		if v == "" {
			return usagef("--%s is missing: the access log is read over a window, --from and --to", n)
		}
	}
	q, err := windowQuery(*from, *to, map[string]*string{"token": name})
	if err != nil {
		return err
	}
	q.Set("limit", fmt.Sprint(*limit))
	body, err := get(ctx, strings.TrimRight(*server, "/")+"/api/v1/access-log?"+q.Encode(), *token)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err = stdout.Write(body)
		return err
	}
	var a struct {
		Entries []store.AccessEntry `json:"entries"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("hepvault answered what is not an access log: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tTOKEN\tROLE\tCLIENT\tREQUEST\tSTATUS\tRETURNED\tPARAMETERS")
	for _, e := range a.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%d\t%d\t%s\n", ts(e.At), dash(e.Token), dash(e.Role), e.Client, e.Method, e.Route, e.Status, e.Returned, dash(e.Params))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runToken is "hepvault token new NAME ROLE": a random token on the first
// line, its line for the --api-tokens file on the second.
func runToken(args []string, stdout, stderr io.Writer) error {
	if len(args) != 3 || args[0] != "new" {
		fmt.Fprintln(stderr, "usage: hepvault token new NAME read|export|admin")
		return usagef("token: want \"new NAME ROLE\"")
	}
	role, err := api.ParseRole(args[2])
	if err != nil {
		return usageError{err}
	}
	tok, line, err := api.NewToken(args[1], role)
	if err != nil {
		if errors.Is(err, api.ErrTokens) {
			return usageError{err}
		}
		return err
	}
	fmt.Fprintf(stdout, "token: %s\nline:  %s\n", tok, line)
	fmt.Fprintln(stderr, "give the token to its user (hepvault query --token, or HEPVAULT_API_TOKEN); add the line to the --api-tokens file and restart serve")
	return nil
}
