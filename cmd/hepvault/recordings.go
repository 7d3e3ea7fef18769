package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

const recordingsUsage = `Usage: hepvault recordings [list] --from T --to T [--user U] [--limit N] [--cursor C] [--server URL] [--token TOKEN] [--json]
       hepvault recordings gaps --from T --to T [--server URL] [--token TOKEN] [--json]

list prints the SIPREC recording sessions (RFC 7866) that started in the
window, one a line, in start order: when the recording started and ended,
its state, its own Call-ID, the call it records (and how that was found:
call_id, session_id or participants), its participants and its streams'
labels. --user keeps the recordings a user took part in.

gaps prints the answered calls of the window with no recording, or whose
recording ended more than 2 s before the call did: started_at, ended_at,
reason (unrecorded, recording_failed, ended_early), from and to user,
Call-ID, and when its recording ended.

--json prints the API's JSON instead.
`

func runRecordings(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch {
		case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
			fmt.Fprint(stdout, recordingsUsage)
			return nil
		case args[0] == "list":
			return runRecordingsQuery(ctx, "list", args[1:], getenv, stdout, stderr)
		case args[0] == "gaps":
			return runRecordingsQuery(ctx, "gaps", args[1:], getenv, stdout, stderr)
		case !strings.HasPrefix(args[0], "-"):
			fmt.Fprint(stderr, recordingsUsage)
			return usagef("recordings: unknown subcommand %q (list, gaps)", args[0])
		}
	}
	return runRecordingsQuery(ctx, "list", args, getenv, stdout, stderr) // list is the default
}

func runRecordingsQuery(ctx context.Context, sub string, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("recordings "+sub, stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "API token, when hepvault serve has --api-token (env HEPVAULT_API_TOKEN)")
	from := fs.String("from", "", "the window's start, inclusive (RFC 3339, unix seconds, or date output)")
	to := fs.String("to", "", "the window's end, exclusive")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	filters := map[string]*string{}
	var limit *int
	if sub == "list" {
		filters["user"] = fs.String("user", "", "a participant's user (the user part of its AOR)")
		filters["cursor"] = fs.String("cursor", "", "continue after the page that gave this cursor")
		limit = fs.Int("limit", 0, "how many recordings (default 100, at most 1000)")
	}
	fs.Usage = func() { fmt.Fprint(stderr, recordingsUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usagef("recordings %s: give the window with --from and --to", sub)
	}
	q, err := windowQuery(*from, *to, filters)
	if err != nil {
		return err
	}
	path := "/api/v1/recordings?"
	if sub == "gaps" {
		path = "/api/v1/recordings/gaps?"
	} else if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	body, err := get(ctx, strings.TrimRight(*server, "/")+path+q.Encode(), *token)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err = stdout.Write(body)
		return err
	}
	if sub == "gaps" {
		return writeGaps(stdout, body)
	}
	return writeRecordings(stdout, body)
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

func writeRecordings(w io.Writer, body []byte) error {
	var page struct {
		Recordings []struct {
			CallID          string   `json:"call_id"`
			RecordedCallIDs []string `json:"recorded_call_ids"`
			LinkedBy        *string  `json:"linked_by"`
			Participants    []struct {
				AOR  string `json:"aor"`
				Name string `json:"name"`
			} `json:"participants"`
			Streams []struct {
				Label string `json:"label"`
			} `json:"streams"`
			StartedAt *string `json:"started_at"`
			EndedAt   *string `json:"ended_at"`
			State     string  `json:"state"`
		} `json:"recordings"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("hepvault's answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED_AT\tENDED_AT\tSTATE\tCALL_ID\tRECORDS\tPARTICIPANTS\tLABELS")
	for _, r := range page.Recordings {
		records := "-"
		if len(r.RecordedCallIDs) > 0 {
			records = strings.Join(r.RecordedCallIDs, ",") + " (" + orDash(r.LinkedBy) + ")"
		}
		var parts, labels []string
		for _, p := range r.Participants {
			if p.Name != "" {
				parts = append(parts, fmt.Sprintf("%s <%s>", p.Name, p.AOR))
			} else {
				parts = append(parts, p.AOR)
			}
		}
		for _, s := range r.Streams {
			labels = append(labels, s.Label)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(r.StartedAt), orDash(r.EndedAt), r.State, r.CallID, records,
			strings.Join(parts, ", "), strings.Join(labels, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		_, err := fmt.Fprintf(w, "(more recordings follow: add --cursor %s)\n", page.Next)
		return err
	}
	return nil
}

func writeGaps(w io.Writer, body []byte) error {
	var a struct {
		Gaps []struct {
			CallID           string  `json:"call_id"`
			Reason           string  `json:"reason"`
			StartedAt        *string `json:"started_at"`
			EndedAt          *string `json:"ended_at"`
			FromUser         *string `json:"from_user"`
			ToUser           *string `json:"to_user"`
			RecordingEndedAt *string `json:"recording_ended_at"`
		} `json:"gaps"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("hepvault's answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED_AT\tENDED_AT\tREASON\tFROM\tTO\tCALL_ID\tRECORDING_ENDED_AT")
	for _, g := range a.Gaps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(g.StartedAt), orDash(g.EndedAt), g.Reason,
			orDash(g.FromUser), orDash(g.ToUser), g.CallID, orDash(g.RecordingEndedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d calls not recorded to their end\n", len(a.Gaps))
	return err
}
