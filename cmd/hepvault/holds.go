package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

// runHolds is "hepvault holds [list|add|end]": the legal holds, through
// /api/v1/holds (an admin token).
func runHolds(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := newFlagSet("holds "+sub, stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "an admin API token (env HEPVAULT_API_TOKEN)")
	var all *bool
	var callID, filter, reason, from, to *string
	switch sub {
	case "list":
		all = fs.Bool("all", false, "ended holds too")
	case "add":
		callID = fs.String("call-id", "", "hold this Call-ID's packets")
		filter = fs.String("filter", "", "or those this packet filter selects, as /api/v1/packets takes it (method=INVITE&user=alice)")
		reason = fs.String("reason", "", "why they are held (required)")
		from = fs.String("from", "", "start of the window (for a Call-ID: default its first packet)")
		to = fs.String("to", "", "end of the window, exclusive")
	case "end":
	default:
		return usagef("holds: unknown subcommand %q: want list, add or end", sub)
	}
	var id int64
	if sub == "end" {
		if len(args) == 0 {
			return usagef("holds end: give the hold's id")
		}
		n, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || n < 1 {
			return usagef("holds end: %q is not a hold id", args[0])
		}
		id, args = n, args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base := strings.TrimRight(*server, "/") + "/api/v1/holds"
	switch sub {
	case "add":
		body := map[string]string{"call_id": *callID, "filter": *filter, "reason": *reason}
		for name, v := range map[string]string{"from": *from, "to": *to} {
			if v != "" {
				t, err := hepvault.ParseTime(v)
				if err != nil {
					return usagef("--%s: %v", name, err)
				}
				body[name] = t.Format(time.RFC3339Nano)
			}
		}
		b, _ := json.Marshal(body)
		out, err := send(ctx, http.MethodPost, base, *token, b)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(out, '\n'))
		return err
	case "end":
		out, err := send(ctx, http.MethodDelete, base+"/"+strconv.FormatInt(id, 10), *token, nil)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(out, '\n'))
		return err
	}
	u := base
	if *all {
		u += "?all=true"
	}
	body, err := get(ctx, u, *token)
	if err != nil {
		return err
	}
	var a struct {
		Holds []store.Hold `json:"holds"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("hepvault answered what is not a list of holds: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tBY\tFROM\tTO\tWHAT\tREASON\tENDED")
	for _, h := range a.Holds {
		what := "call_id=" + h.CallID
		if h.Filter != "" {
			what = h.Filter
		}
		ended := "-"
		if h.EndedAt != nil {
			ended = ts(*h.EndedAt) + " by " + dash(h.EndedBy)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, ts(h.CreatedAt), dash(h.CreatedBy), ts(h.From), ts(h.To), what, h.Reason, ended)
	}
	return tw.Flush()
}

// send makes a request with a JSON body and returns the body of a 2xx answer.
func send(ctx context.Context, method, u, token string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, usagef("--server: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach hepvault at %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(out, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("hepvault answered %d: %s", resp.StatusCode, e.Error)
		}
		return nil, fmt.Errorf("hepvault answered %s", resp.Status)
	}
	return bytes.TrimSpace(out), nil
}
