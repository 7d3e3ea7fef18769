package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
)

// sealConfig holds serve's sealing flags (store/seal.go seals).
type sealConfig struct {
	After   time.Duration
	KeyFile string
	// Every is how often the sealing job runs (tests shorten it).
	Every  time.Duration
	envErr error
}

const defaultSealAfter = time.Hour

func addSealFlags(fs *flag.FlagSet, getenv env, sc *sealConfig) {
	sc.After = defaultSealAfter
	if v := getenv("HEPVAULT_SEAL_AFTER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			sc.envErr = usagef("HEPVAULT_SEAL_AFTER: want a duration such as 1h or 30m, not %q", v)
		}
		sc.After = d
	}
	fs.DurationVar(&sc.After, "seal-after", sc.After,
		"seal each UTC day this long after it ends, and late packets of a sealed day this long after its last seal (env HEPVAULT_SEAL_AFTER)")
	fs.StringVar(&sc.KeyFile, "seal-key", getenv("HEPVAULT_SEAL_KEY"),
		"sign each seal with this Ed25519 private key, PEM PKCS #8 (openssl genpkey -algorithm ed25519) (env HEPVAULT_SEAL_KEY)")
}

// storeConfig reads the key, if any.
func (sc sealConfig) storeConfig() (store.SealConfig, error) {
	cfg := store.DefaultSealConfig()
	if sc.envErr != nil {
		return cfg, sc.envErr
	}
	if sc.After > 0 { // 0: a serveConfig not built from flags
		cfg.After = sc.After
	}
	if sc.KeyFile == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(sc.KeyFile)
	if err != nil {
		return cfg, usagef("--seal-key: %v", err)
	}
	if cfg.Key, err = store.ParseSealKey(b); err != nil {
		return cfg, usagef("--seal-key %s: %v", sc.KeyFile, err)
	}
	return cfg, nil
}

// keepSeals seals the days that are due, every minute, until ctx ends,
// reading each day on one connection (store.SealConfig.Readers): the
// job is in no hurry, ingest and queries are.
func (s *server) keepSeals(ctx context.Context, cfg store.SealConfig) {
	cfg.Readers = 1
	every := s.cfg.Seal.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if s.db.Ready() {
			if _, err := s.db.SealDays(ctx, time.Now(), cfg); err != nil && ctx.Err() == nil {
				s.log.Warn("could not seal days; trying again at the next run", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// openForCommand opens the database of a command that reads the store
// (verify, seals, export): --db, or the embedded PostgreSQL in --data-dir.
func openForCommand(ctx context.Context, dsn, dataDir string, stderr io.Writer) (*store.DB, func(), error) {
	log, err := newLogger(stderr, "warn", "text")
	if err != nil {
		return nil, nil, err
	}
	db, pg, err := openStorage(ctx, dsn, dataDir, log)
	if err != nil {
		return nil, nil, err
	}
	return db, func() { closeStorage(db, pg, log) }, nil
}

func addDBFlags(fs *flag.FlagSet, getenv env) (dsn, dataDir *string) {
	dsn = fs.String("db", getenv("HEPVAULT_DB"), "PostgreSQL DSN (env HEPVAULT_DB); empty: the embedded PostgreSQL in --data-dir")
	dataDir = fs.String("data-dir", envDefault(getenv, "HEPVAULT_DATA_DIR", "./hepvault-data"), "data folder of the embedded PostgreSQL, as serve uses it (env HEPVAULT_DATA_DIR)")
	return dsn, dataDir
}

// dayWindow reads --day or --from/--to into a window of days.
func dayWindow(dayS, fromS, toS string) (from, to time.Time, err error) {
	if dayS != "" {
		if fromS != "" || toS != "" {
			return from, to, usagef("give --day or --from/--to, not both")
		}
		d, err := time.Parse(time.DateOnly, dayS)
		if err != nil {
			return from, to, usagef("--day: want a UTC date such as 2026-12-03, not %q", dayS)
		}
		return d, d.Add(24 * time.Hour), nil
	}
	for _, f := range []struct {
		s   string
		t   *time.Time
		arg string
	}{{fromS, &from, "from"}, {toS, &to, "to"}} {
		if f.s == "" {
			continue
		}
		if *f.t, err = hepvault.ParseTime(f.s); err != nil {
			return from, to, usagef("--%s: %v", f.arg, err)
		}
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return from, to, usagef("--to must be after --from")
	}
	return from, to, nil
}

// runSeals is `hepvault seals export`: the seals as signed statements,
// one JSON line each, for an auditor to keep outside the database.
func runSeals(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "export" {
		return usagef("seals: want a subcommand: export")
	}
	fs := newFlagSet("seals export", stderr)
	dsn, dataDir := addDBFlags(fs, getenv)
	dayS := fs.String("day", "", "only this UTC day's seals (2026-12-03)")
	fromS := fs.String("from", "", "only the days from this time's day on")
	toS := fs.String("to", "", "only the days before this time")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	from, to, err := dayWindow(*dayS, *fromS, *toS)
	if err != nil {
		return err
	}
	db, done, err := openForCommand(ctx, *dsn, *dataDir, stderr)
	if err != nil {
		return err
	}
	defer done()
	seals, err := db.Seals(ctx, from, to)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, s := range seals {
		if err := enc.Encode(s); err != nil {
			return err
		}
	}
	if len(seals) > 0 && seals[0].Signature == nil {
		fmt.Fprintln(stderr, "hepvault: these seals are not signed (serve --seal-key): they prove the packets only as long as this file is kept where the database's users cannot change it")
	}
	return nil
}

// errMismatch: verify or verify-export found a difference (exit code 1).
var errMismatch = errors.New("not everything matches")

// maxShown bounds the differences printed: the first names the problem.
const maxShown = 50

// runVerify is `hepvault verify`: the sealed days recomputed from their
// packets, against the seals and, when given, the exported statements.
func runVerify(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	dsn, dataDir := addDBFlags(fs, getenv)
	dayS := fs.String("day", "", "verify this UTC day (2026-12-03)")
	fromS := fs.String("from", "", "verify the days from this time's day on")
	toS := fs.String("to", "", "verify the days before this time")
	stmts := fs.String("statements", "", "the statements `hepvault seals export` wrote: each must match the database and the packets")
	keyFile := fs.String("key", "", "the Ed25519 public key (PEM) that must have signed every seal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	from, to, err := dayWindow(*dayS, *fromS, *toS)
	if err != nil {
		return err
	}
	opt := store.VerifyOptions{From: from, To: to}
	if *stmts != "" {
		f, err := os.Open(*stmts)
		if err != nil {
			return usagef("--statements: %v", err)
		}
		opt.Statements, err = store.ReadStatements(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--statements %s: %w", *stmts, err)
		}
	}
	if *keyFile != "" {
		if opt.PublicKey, err = readPublicKey(*keyFile); err != nil {
			return err
		}
	}
	db, done, err := openForCommand(ctx, *dsn, *dataDir, stderr)
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	rep, err := db.Verify(ctx, opt)
	if err != nil {
		return err
	}
	for i, d := range rep.Differences {
		if i == maxShown {
			fmt.Fprintf(stdout, "... and %d more\n", len(rep.Differences)-maxShown)
			break
		}
		fmt.Fprintln(stdout, d)
	}
	for _, d := range rep.Dropped {
		fmt.Fprintf(stdout, "%s: dropped by retention or the disk guard, as the database records: nothing left to verify\n", d.Format(time.DateOnly))
	}
	for _, d := range rep.Unsealed {
		fmt.Fprintf(stdout, "%s: not sealed yet: nothing to verify it against\n", d.Format(time.DateOnly))
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "%d days (%d sealed), %d packets read in %.1f s (%.0f packets/s): ", rep.Days, rep.SealedDays,
		rep.Packets, took.Seconds(), float64(rep.Packets)/max(took.Seconds(), 1e-9))
	if !rep.OK() {
		fmt.Fprintf(stdout, "%d differences\n", len(rep.Differences))
		return fmt.Errorf("verify: %w: %d differences, the first: %v", errMismatch, len(rep.Differences), rep.Differences[0])
	}
	fmt.Fprintln(stdout, "everything matches")
	return nil
}

func readPublicKey(file string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	pub, err := store.ParsePublicKey(b)
	if err != nil {
		return nil, usagef("--key %s: %v", file, err)
	}
	return pub, nil
}
