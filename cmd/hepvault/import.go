package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

type importConfig struct {
	DB       string
	DataDir  string
	Batch    int
	Progress time.Duration
	// Horizon refuses packets captured longer ago (serve's --retention).
	Horizon time.Duration
	Files   []string
	// CorrelationHeaders are read beside X-CID and X-Call-ID, as serve
	// reads them.
	CorrelationHeaders []sip.CorrelationHeader
	// LogFormat is "text" or "json".
	LogFormat string
}

// runImport loads capture files into the store. Each packet's id comes from
// its content (collector/capture), and the writer skips rows it already
// has, so importing a file again stores nothing new.
func runImport(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	flags := newFlagSet("import", stderr)
	var cfg importConfig
	flags.StringVar(&cfg.DB, "db", getenv("HEPVAULT_DB"), "PostgreSQL DSN (env HEPVAULT_DB); empty: the embedded PostgreSQL in --data-dir")
	flags.StringVar(&cfg.DataDir, "data-dir", envDefault(getenv, "HEPVAULT_DATA_DIR", "./hepvault-data"), "data folder of the embedded PostgreSQL, as serve uses it (env HEPVAULT_DATA_DIR)")
	flags.IntVar(&cfg.Batch, "batch", 5000, "packets written per database round trip")
	if err := (horizonFlag{&cfg.Horizon}).Set(envDefault(getenv, "HEPVAULT_RETENTION", "0")); err != nil {
		return fmt.Errorf("HEPVAULT_RETENTION: %w", err)
	}
	flags.Var(horizonFlag{&cfg.Horizon}, "retention", "refuse packets captured longer ago than this, as serve would drop them (90d, 36h; 0: none) (env HEPVAULT_RETENTION)")
	flags.DurationVar(&cfg.Progress, "progress", 5*time.Second, "show progress on large files this often (and at every 10%); 0: never")
	addLogFormatFlag(flags, getenv, &cfg.LogFormat)
	corr := correlationFlag{&cfg.CorrelationHeaders}
	if v := getenv("HEPVAULT_CORRELATION_HEADER"); v != "" {
		if err := corr.Set(v); err != nil {
			return usagef("HEPVAULT_CORRELATION_HEADER: %v", err)
		}
	}
	flags.Var(corr, "correlation-header", "a header whose value links the legs of a call, as serve reads it (env HEPVAULT_CORRELATION_HEADER)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hepvault import [--db DSN | --data-dir DIR] FILE...\n\n"+
			"Loads pcap or pcapng files (gzipped or not) of SIP, plain or in HEP, over UDP or TCP.\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	cfg.Files = flags.Args()
	if len(cfg.Files) == 0 {
		flags.Usage()
		return usagef("import: no capture file given")
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["db"] && set["data-dir"] {
		return usagef("import: give --db or --data-dir, not both")
	}
	if cfg.Batch <= 0 {
		return usagef("import: --batch must be positive, not %d", cfg.Batch)
	}
	log, err := newLogger(stderr, "warn", cfg.LogFormat)
	if err != nil {
		return err
	}
	// Say which file cannot be opened before starting a database.
	for _, f := range cfg.Files {
		if _, err := os.Stat(f); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	db, pg, err := openStorage(ctx, cfg.DB, cfg.DataDir, log)
	if err != nil {
		return err
	}
	defer closeStorage(db, pg, log)

	im := &importer{cfg: cfg, ctx: ctx, w: store.NewWriter(db, store.DefaultWriterConfig()), stderr: stderr,
		where: storeName(cfg.DB, cfg.DataDir)}
	// One cutoff for the whole import: a packet is refused or not whatever
	// the time it is read at.
	im.cutoff = store.NewRetention(db, store.RetentionConfig{Horizon: cfg.Horizon}).Cutoff(time.Now())
	start := time.Now()
	var failed []string
	for _, path := range cfg.Files {
		if err := im.file(path); err != nil {
			// Interrupted, or the database failed: what was written stays,
			// and ids make a rerun store only the rest.
			if ctx.Err() != nil {
				im.summary(stdout, len(failed), time.Since(start))
				return fmt.Errorf("interrupted while importing %s; run the same import again to finish (nothing is stored twice)", path)
			}
			if im.dbErr != nil {
				im.summary(stdout, len(failed), time.Since(start))
				return fmt.Errorf("%s: writing to the database: %w; run the same import again to finish (nothing is stored twice)", path, im.dbErr)
			}
			fmt.Fprintf(stderr, "hepvault import: %s: %v\n", path, err)
			failed = append(failed, path)
		}
	}
	im.summary(stdout, len(failed), time.Since(start))
	if im.expired > 0 {
		fmt.Fprintf(stderr, "hepvault import: %d packets refused: captured before %s, past --retention %s (serve would drop them)\n",
			im.expired, im.cutoff.UTC().Format(time.RFC3339), horizonFlag{&im.cfg.Horizon})
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d files could not be read to the end (what was read from them is stored): %v", len(failed), len(cfg.Files), failed)
	}
	return nil
}

// importer carries the counters over the files of one import.
type importer struct {
	cfg    importConfig
	ctx    context.Context
	w      *store.Writer
	stderr io.Writer

	total      capture.Stats
	files      int
	stored     int64 // new rows
	duplicates int64 // rows the store already had
	expired    int64 // packets captured before cutoff, not stored
	cutoff     time.Time
	batch      []hepvault.Packet
	dbErr      error
	where      string // the database, for the summary
}

// storeName says where packets go, without a password.
func storeName(dsn, dataDir string) string {
	if dsn == "" {
		return "embedded PostgreSQL in " + dataDir
	}
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "the database of --db"
	}
	return fmt.Sprintf("database %s on %s:%d", c.Database, c.Host, c.Port)
}

// file imports one capture file.
func (im *importer) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	im.files++
	p := progress{im: im, name: filepath.Base(path), size: size, every: im.cfg.Progress, start: time.Now()}
	st, err := capture.Read(f, capture.Config{Progress: p.report, CorrelationHeaders: im.cfg.CorrelationHeaders}, im.add)
	if ferr := im.flush(); ferr != nil && err == nil {
		err = ferr
	}
	im.total.Add(st)
	if im.dbErr != nil {
		return im.dbErr
	}
	return err
}

func (im *importer) add(p hepvault.Packet) error {
	if err := im.ctx.Err(); err != nil {
		return err
	}
	if p.CapturedAt.Before(im.cutoff) {
		im.expired++
		return nil
	}
	im.batch = append(im.batch, p)
	if len(im.batch) >= im.cfg.Batch {
		return im.flush()
	}
	return nil
}

func (im *importer) flush() error {
	if len(im.batch) == 0 {
		return nil
	}
	n, err := im.w.WriteBatchOnce(im.ctx, im.batch)
	if err != nil {
		im.dbErr = err
		return err
	}
	im.stored += n
	im.duplicates += int64(len(im.batch)) - n
	clear(im.batch)
	im.batch = im.batch[:0]
	return nil
}

// progress prints a line on stderr for files that take a while: at every
// tenth of the file and at least every `every`.
type progress struct {
	im          *importer
	name        string
	size        int64
	every       time.Duration
	start, last time.Time
	tenth       int64
}

func (p *progress) report(st capture.Stats) {
	if p.every <= 0 {
		return
	}
	now := time.Now()
	// Small files, and the end of a file: the summary says it all.
	if now.Sub(p.start) < time.Second || (p.size > 0 && st.Bytes >= p.size) {
		return
	}
	var tenth int64
	if p.size > 0 {
		tenth = st.Bytes * 10 / p.size
	}
	if tenth <= p.tenth && now.Sub(p.last) < p.every {
		return
	}
	p.tenth, p.last = tenth, now
	pct := ""
	if p.size > 0 {
		pct = fmt.Sprintf(" %3d%% of %s,", min(100, st.Bytes*100/p.size), humanBytes(p.size))
	}
	fmt.Fprintf(p.im.stderr, "import: %s:%s %d packets read, %d SIP messages (%d stored so far), %d skipped\n",
		p.name, pct, st.Records, st.Messages, p.im.stored, st.SkippedTotal())
}

func (im *importer) summary(w io.Writer, failed int, took time.Duration) {
	t := &im.total
	fmt.Fprintf(w, "into                 %s\n", im.where)
	fmt.Fprintf(w, "files                %d", im.files)
	if failed > 0 {
		fmt.Fprintf(w, " (%d not read to the end)", failed)
	}
	fmt.Fprintf(w, ", %s in %.1fs\n", humanBytes(t.Bytes), took.Seconds())
	fmt.Fprintf(w, "packets read         %d\n", t.Records)
	fmt.Fprintf(w, "SIP messages         %d (%d in HEP, %d plain SIP)\n", t.Messages, t.FromHEP, t.Messages-t.FromHEP)
	fmt.Fprintf(w, "  stored (new)       %d\n", im.stored)
	fmt.Fprintf(w, "  already stored     %d\n", im.duplicates)
	if !im.cutoff.IsZero() {
		fmt.Fprintf(w, "  refused (expired)  %d (captured before %s, past --retention %s)\n",
			im.expired, im.cutoff.UTC().Format(time.RFC3339), horizonFlag{&im.cfg.Horizon})
	}
	fmt.Fprintf(w, "  invalid SIP        %d (stored as kind invalid, with the reason)\n", t.Invalid)
	fmt.Fprintf(w, "skipped              %d\n", t.SkippedTotal())
	for _, r := range capture.Reasons() {
		if n := t.Skipped[r]; n > 0 {
			fmt.Fprintf(w, "  %-18s %d\n", r, n)
		}
	}
	if !t.First.IsZero() {
		fmt.Fprintf(w, "packet times         %s to %s\n", t.First.UTC().Format(microTime), t.Last.UTC().Format(microTime))
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

const microTime = "2006-01-02T15:04:05.000000Z07:00"
