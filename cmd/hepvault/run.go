package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// usageError marks a mistake in the command line (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const usage = `hepvault records SIP traffic mirrored over HEP (Kamailio siptrace, heplify, ...)
into PostgreSQL and answers what the first N packets of a time window were.

Usage:
  hepvault serve   [--db DSN] [--data-dir DIR] [--hep-udp ADDR] [--hep-tcp ADDR] [--http ADDR]
                   [--hep-tls ADDR --tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
                   [--api-token TOKEN] [--api-tokens FILE] [--hep-allow CIDR,...] [--hep-auth-key KEY]
                   [--retention 90d] [--min-free-disk 10%] [--max-db-size SIZE]
                   [--seal-after 1h] [--seal-key FILE]
  hepvault query   [--server URL] [--token TOKEN] [--from T] [--to T] [--limit N] [filters] [--json | --pcap FILE]
  hepvault stats   [--server URL] [--token TOKEN] --from T --to T [--step 1m|5m|1h|1d]
                   --by method|status|status_class|kind|capture_id|pair [--json]
  hepvault calls [list] --from T --to T [--server URL] [--token TOKEN] [--limit N] [filters] [--json]
  hepvault calls show CALL_ID [--server URL] [--token TOKEN] [--json] [--width N] [--pcap FILE]
  hepvault coverage --from T --to T [--gap 60s] [--server URL] [--token TOKEN] [--json]
  hepvault access-log --from T --to T [--name TOKEN_NAME] [--server URL] [--token TOKEN] [--json]
  hepvault holds [list [--all] | add (--call-id ID | --filter QUERY) --reason R [--from T --to T] | end ID]
  hepvault token new NAME read|export|admin
  hepvault recordings [list] --from T --to T [--user U] [--server URL] [--token TOKEN] [--limit N] [--json]
  hepvault recordings gaps --from T --to T [--server URL] [--token TOKEN] [--json]
  hepvault migrate --db DSN
  hepvault import  [--db DSN | --data-dir DIR] [--retention 90d] FILE...   (pcap/pcapng of SIP or HEP)
  hepvault seals export [--db DSN] [--day D | --from T --to T]      (signed statements, JSON lines)
  hepvault verify  [--db DSN] [--day D | --from T --to T] [--statements FILE] [--key PUB.pem]
  hepvault export  [--db DSN] --out DIR [--from T] [--to T] [--call-id ID] [filters]   (pcap + proofs)
  hepvault verify-export DIR [--key PUB.pem]

Times (T) may be RFC 3339 (2026-11-25T12:20:33Z), unix seconds (1795609948.25),
or what date prints (Wed Nov 25 12:20:33 UTC 2026).
Run "hepvault COMMAND --help" for a command's flags.
`

// env reads an environment variable; tests pass their own.
type env func(string) string

func run(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stderr)
	case "query":
		return runQuery(ctx, args[1:], getenv, stdout, stderr)
	case "stats":
		return runStats(ctx, args[1:], getenv, stdout, stderr)
	case "calls":
		return runCalls(ctx, args[1:], getenv, stdout, stderr)
	case "coverage":
		return runCoverage(ctx, args[1:], getenv, stdout, stderr)
	case "access-log":
		return runAccessLog(ctx, args[1:], getenv, stdout, stderr)
	case "holds":
		return runHolds(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "recordings":
		return runRecordings(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stderr)
	case "import":
		return runImport(ctx, args[1:], getenv, stdout, stderr)
	case "seals":
		return runSeals(ctx, args[1:], getenv, stdout, stderr)
	case "verify":
		return runVerify(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], getenv, stdout, stderr)
	case "verify-export":
		return runVerifyExport(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", args[0])
}

// newFlagSet returns a flag set whose errors come back as usage errors.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hepvault "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// envDefault returns the environment variable's value, or def when unset.
func envDefault(getenv env, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// addLogFormatFlag adds --log-format (env HEPVAULT_LOG_FORMAT) to fs, into p.
func addLogFormatFlag(fs *flag.FlagSet, getenv env, p *string) {
	fs.StringVar(p, "log-format", envDefault(getenv, "HEPVAULT_LOG_FORMAT", "text"),
		"text (key=value) or json (one object a line, for a log collector) (env HEPVAULT_LOG_FORMAT)")
}

// newLogger returns a logger writing to w at level and above, in format
// "text" (slog's key=value lines) or "json" (one JSON object a line).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, usagef("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be text or json, not %q", format)
}
