package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/internal/callflow"
)

const callsUsage = `Usage: hepvault calls [list] --from T --to T [--server URL] [--token TOKEN] [--limit N] [filters] [--json]
       hepvault calls show CALL_ID [--server URL] [--token TOKEN] [--json] [--width N] [--pcap FILE] [--legs]

list prints the calls (Call-IDs) that started in the window, one a line, in
start order: started_at, state, final status, method, from and to user,
source and destination address, PDD, duration, packets and Call-ID; --json
prints the API's JSON instead. Filters (--user, --method INVITE,REGISTER,
--state busy,failed, --status 486, ...) select by the call's first request,
its state and its final status.

show prints what became of the call (state, final response, PDD, duration,
its other legs through a B2BUA) and draws its message flow; --legs draws
the flow of every leg together, --json prints the summary as JSON instead,
and --pcap FILE saves the call's packets (with --legs, every leg's) as a
pcap file (- for standard output).
`

func runCalls(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, callsUsage)
		return usagef("calls: no subcommand given (show)")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, callsUsage)
		return nil
	}
	switch {
	case args[0] == "show":
		return runCallsShow(ctx, args[1:], getenv, stdout, stderr)
	case args[0] == "list":
		return runCallsList(ctx, args[1:], getenv, stdout, stderr)
	case strings.HasPrefix(args[0], "-"):
		return runCallsList(ctx, args, getenv, stdout, stderr) // list is the default
	}
	fmt.Fprint(stderr, callsUsage)
	return usagef("calls: unknown subcommand %q (list, show)", args[0])
}

func runCallsList(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("calls list", stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "API token, when hepvault serve has --api-token (env HEPVAULT_API_TOKEN)")
	from := fs.String("from", "", "the window's start, inclusive (RFC 3339, unix seconds, or date output)")
	to := fs.String("to", "", "the window's end, exclusive")
	limit := fs.Int("limit", 0, "how many calls (default 100, at most 1000)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	filters := map[string]*string{}
	for _, f := range []struct{ flag, param, help string }{
		{"user", "user", "a user of the first request's From, To, Request-URI or P-Asserted-Identity (a number matches with or without + and separators)"},
		{"from-user", "from_user", "user part of the first request's From URI"},
		{"to-user", "to_user", "user part of the first request's To URI"},
		{"ruri-user", "ruri_user", "user part of the first request's Request-URI"},
		{"ip", "ip", "source or destination address of the first request; or a comma-separated list"},
		{"method", "method", "method of the first request (INVITE, REGISTER, ...); or a comma-separated list"},
		{"state", "state", "answered, cancelled, busy, no_answer, failed, in_progress, registered or completed; or a comma-separated list"},
		{"status", "status", "final status code (486, ...); or a comma-separated list"},
		{"capture-id", "capture_id", "HEP capture agent id; or a comma-separated list"},
		{"cursor", "cursor", "continue after the page that gave this cursor"},
	} {
		filters[f.param] = fs.String(f.flag, "", f.help)
	}
	fs.Usage = func() { fmt.Fprint(stderr, callsUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usagef("calls list: give the window with --from and --to")
	}
	q, err := windowQuery(*from, *to, filters)
	if err != nil {
		return err
	}
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	body, err := get(ctx, strings.TrimRight(*server, "/")+"/api/v1/calls?"+q.Encode(), *token)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err = stdout.Write(body)
		return err
	}
	var page struct {
		Calls []listedCall `json:"calls"`
		Next  string       `json:"next"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("hepvault's answer: %w", err)
	}
	return writeCallsTable(stdout, page.Calls, page.Next)
}

// listedCall is what the table shows of a call of the API's listing.
type listedCall struct {
	CallID      string   `json:"call_id"`
	Method      string   `json:"method"`
	StartedAt   string   `json:"started_at"`
	State       string   `json:"state"`
	FinalStatus int      `json:"final_status"`
	FinalReason string   `json:"final_reason"`
	FromUser    string   `json:"from_user"`
	ToUser      string   `json:"to_user"`
	SrcIP       string   `json:"src_ip"`
	DstIP       string   `json:"dst_ip"`
	PDDMs       *float64 `json:"pdd_ms"`
	DurationS   *float64 `json:"duration_s"`
	Packets     int      `json:"packets"`
}

// writeCallsTable prints calls one a line under a header, "-" for what is
// unknown, then how to ask for the next page when there is one.
func writeCallsTable(w io.Writer, calls []listedCall, next string) error {
	var b strings.Builder
	if len(calls) == 0 {
		b.WriteString("no calls match\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STARTED_AT\tSTATE\tFINAL\tMETHOD\tFROM -> TO\tSRC -> DST\tPDD\tDURATION\tPACKETS\tCALL_ID")
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		}
		for _, c := range calls {
			final, pdd, dur := "-", "-", "-"
			if c.FinalStatus != 0 {
				final = strings.TrimSpace(strconv.Itoa(c.FinalStatus) + " " + c.FinalReason)
			}
			if c.PDDMs != nil {
				pdd = strconv.FormatFloat(*c.PDDMs, 'f', 1, 64) + " ms"
			}
			if c.DurationS != nil {
				dur = strconv.FormatFloat(*c.DurationS, 'f', 1, 64) + " s"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s -> %s\t%s -> %s\t%s\t%s\t%d\t%s\n",
				dash(c.StartedAt), c.State, final, dash(c.Method), dash(c.FromUser), dash(c.ToUser),
				dash(c.SrcIP), dash(c.DstIP), pdd, dur, c.Packets, c.CallID)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if next != "" {
		fmt.Fprintf(&b, "(more calls follow: add --cursor %s)\n", next)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func runCallsShow(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("calls show", stderr)
	server := fs.String("server", envDefault(getenv, "HEPVAULT_SERVER", "http://127.0.0.1:9080"), "URL of a running hepvault (env HEPVAULT_SERVER)")
	token := fs.String("token", getenv("HEPVAULT_API_TOKEN"), "API token, when hepvault serve has --api-token (env HEPVAULT_API_TOKEN)")
	asJSON := fs.Bool("json", false, "print the call's summary as JSON, without the ladder")
	width := fs.Int("width", callflow.DefaultWidth, "widest line of the ladder, in characters (at least 40)")
	pcap := fs.String("pcap", "", "save the call's packets to this pcap file (- for standard output) instead of printing")
	withLegs := fs.Bool("legs", false, "draw (or save with --pcap) the packets of every leg of the call, not only its own")
	fs.Usage = func() { fmt.Fprint(stderr, callsUsage); fs.PrintDefaults() }
	// The Call-ID may come before or after the flags.
	var callIDs []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		callIDs = append(callIDs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(callIDs) == 0:
		fs.Usage()
		return usagef("calls show: no CALL_ID given")
	case len(callIDs) > 1:
		return usagef("calls show: one CALL_ID at a time, not %q", callIDs)
	case *width < 40:
		return usagef("calls show: --width must be at least 40, not %d", *width)
	}
	u := strings.TrimRight(*server, "/") + "/api/v1/calls/" + url.PathEscape(callIDs[0])
	q := url.Values{}
	if *withLegs {
		q.Set("legs", "true")
	}
	if *pcap != "" {
		q.Set("format", "pcap")
		return saveCallPcap(ctx, u+"?"+q.Encode(), *token, *pcap, stdout, stderr)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	body, err := get(ctx, u, *token)
	if err != nil {
		return err
	}
	pkts, legs, err := api.DecodeCall(body)
	if err != nil {
		return fmt.Errorf("hepvault's answer: %w", err)
	}
	// The summary is the call's own; the ladder, with --legs, every leg's.
	own := pkts
	if len(legs) > 0 && *withLegs {
		own = nil
		for _, p := range pkts {
			if p.CallID == callIDs[0] {
				own = append(own, p)
			}
		}
	}
	call := callflow.Summarize(own)
	call.Legs = legs
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(call)
	}
	if err := writeCallSummary(stdout, call); err != nil {
		return err
	}
	if _, err := io.WriteString(stdout, "\n"); err != nil {
		return err
	}
	return callflow.Ladder(stdout, pkts, callflow.LadderOptions{Width: *width})
}

// writeCallSummary prints the key fields of a call, one a line; "-" for
// what is unknown.
func writeCallSummary(w io.Writer, c callflow.Call) error {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(callflow.TimeFormat)
	}
	final := "-"
	if c.FinalStatus != 0 {
		final = strings.TrimSpace(strconv.Itoa(c.FinalStatus) + " " + c.FinalReason)
	}
	pdd, dur := "-", "-"
	if c.HasPDD {
		pdd = strconv.FormatFloat(float64(c.PDD.Microseconds())/1e3, 'f', 3, 64) + " ms"
	}
	if c.HasDuration {
		dur = strconv.FormatFloat(float64(c.Duration.Microseconds())/1e6, 'f', 3, 64) + " s"
	}
	legs := "-"
	if len(c.Legs) > 0 {
		legs = strings.Join(c.Legs, " ")
	}
	rows := [][2]string{
		{"call_id", c.CallID},
		{"legs", legs},
		{"method", dash(c.Method)},
		{"state", string(c.State)},
		{"final", final},
		{"from_user", dash(c.FromUser)},
		{"to_user", dash(c.ToUser)},
		{"ruri_user", dash(c.RURIUser)},
		{"src_ip", dash(c.SrcIP)},
		{"dst_ip", dash(c.DstIP)},
		{"user_agent", dash(c.UserAgent)},
		{"started_at", at(c.StartedAt)},
		{"ringing_at", at(c.RingingAt)},
		{"answered_at", at(c.AnsweredAt)},
		{"ended_at", at(c.EndedAt)},
		{"pdd", pdd},
		{"duration", dur},
		{"packets", strconv.Itoa(c.Packets)},
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-12s %s\n", r[0], r[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// saveCallPcap fetches the call as a capture file and writes it to path,
// through a temporary file beside it, so a failed transfer leaves no
// half-written file under the name asked for.
func saveCallPcap(ctx context.Context, u, token, path string, stdout, stderr io.Writer) error {
	body, err := get(ctx, u, token)
	if err != nil {
		return err
	}
	if !isCaptureFile(body) {
		return fmt.Errorf("hepvault answered %d bytes that are not a pcap or pcapng file (does this server export pcap?)", len(body))
	}
	if path == "-" {
		_, err := stdout.Write(body)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--pcap: %w", err)
	}
	_, werr := tmp.Write(body)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--pcap: %w", werr)
	}
	fmt.Fprintf(stderr, "wrote %s (%d bytes)\n", path, len(body))
	return nil
}

// isCaptureFile says whether b starts like a pcap (either byte order,
// micro- or nanosecond) or a pcapng file.
func isCaptureFile(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a:
		return true
	}
	return false
}
