package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/internal/pcapout"
	"github.com/hepvault/hepvault/store"
)

// An export that proves itself is a folder of three files:
//
//	packets.pcap    the packets, as `hepvault query --pcap` writes them
//	manifest.jsonl  a line per packet, in the pcap's order: its stored
//	                fields (canonical encoding, base64), its leaf hash,
//	                its seal and its inclusion proof
//	seals.jsonl     the statements of the seals the proofs lead to
//
// verify-export checks it without the database: each packet's leaf, its
// proof to its seal's root, each seal's signature, and that the pcap is
// the one these packets make.
const (
	exportPcap     = "packets.pcap"
	exportManifest = "manifest.jsonl"
	exportSeals    = "seals.jsonl"
)

// manifestLine is one packet of manifest.jsonl.
type manifestLine struct {
	Packet     int      `json:"packet"` // 1, 2, ... in the pcap's order
	ID         int64    `json:"id"`
	CapturedAt string   `json:"captured_at"`
	CallID     string   `json:"call_id"`
	Day        string   `json:"day"`
	Addendum   int      `json:"addendum"`
	Index      uint64   `json:"index"` // the leaf's number in the seal's tree, from 0
	Leaf       string   `json:"leaf"`
	Canonical  string   `json:"canonical"`
	Proof      []string `json:"proof"`
}

// maxExport bounds an export: its proofs and packets are held in memory.
const maxExport = 1000000

func runExport(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	dsn, dataDir := addDBFlags(fs, getenv)
	out := fs.String("out", "", "folder to write the export into (made; must not hold an export already)")
	from := fs.String("from", "", "first capture time, inclusive")
	to := fs.String("to", "", "end of the window, exclusive")
	limit := fs.Int("limit", 10000, fmt.Sprintf("at most this many packets (up to %d)", maxExport))
	filters := map[string]*string{}
	for _, f := range []struct{ flag, param, help string }{
		{"call-id", "call_id", "Call-ID"},
		{"method", "method", "request method; or a comma-separated list"},
		{"status", "status", "response status code; or a comma-separated list"},
		{"user", "user", "user part of any of the From, To, Request-URI and P-Asserted-Identity URIs"},
		{"ip", "ip", "source or destination IP address; or a comma-separated list"},
		{"capture-id", "capture_id", "HEP capture agent id; or a comma-separated list"},
	} {
		filters[f.param] = fs.String(f.flag, "", f.help)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("export: --out is required")
	}
	if *limit < 1 || *limit > maxExport {
		return usagef("export: --limit must be 1 to %d", maxExport)
	}
	q, err := windowQuery(*from, *to, filters)
	if err != nil {
		return err
	}
	if len(q) == 0 {
		return usagef("export: give a window (--from, --to), a call (--call-id) or a filter")
	}
	f, err := api.ParseFilter(q)
	if err != nil {
		return usageError{err}
	}
	if _, err := os.Stat(filepath.Join(*out, exportManifest)); err == nil {
		return usagef("export: %s holds an export already", *out)
	}
	db, done, err := openForCommand(ctx, *dsn, *dataDir, stderr)
	if err != nil {
		return err
	}
	defer done()

	var pkts []hepvault.Packet
	for len(pkts) < *limit {
		f.Limit = min(*limit-len(pkts), store.MaxLimit)
		page, more, err := db.Packets(ctx, f)
		if err != nil {
			return err
		}
		pkts = append(pkts, page...)
		if !more || len(page) == 0 {
			break
		}
		last := page[len(page)-1]
		f.After = &hepvault.Position{CapturedAt: last.CapturedAt, ID: last.ID}
	}
	if len(pkts) == 0 {
		return errors.New("export: no packet matches")
	}
	proofs, err := db.Prove(ctx, pkts)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := writeExport(*out, pkts, proofs); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d packets with their proofs to %s\n", len(pkts), *out)
	return nil
}

func writeExport(dir string, pkts []hepvault.Packet, proofs []store.Proof) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var pcap, manifest, seals bytes.Buffer
	if err := pcapout.Write(&pcap, pkts); err != nil {
		return err
	}
	type sealKey struct {
		day      time.Time
		addendum int
	}
	written := map[sealKey]bool{}
	menc, senc := json.NewEncoder(&manifest), json.NewEncoder(&seals)
	for i := range proofs {
		pr := &proofs[i]
		line := manifestLine{Packet: i + 1, ID: pkts[i].ID, CapturedAt: pkts[i].CapturedAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
			CallID: pkts[i].CallID, Day: pr.Seal.Day.Format(time.DateOnly), Addendum: pr.Seal.Addendum, Index: pr.Index,
			Canonical: base64.StdEncoding.EncodeToString(pr.Canonical), Proof: make([]string, len(pr.Path))}
		leaf := store.LeafHash(pr.Canonical)
		line.Leaf = hex.EncodeToString(leaf[:])
		for j := range pr.Path {
			line.Proof[j] = hex.EncodeToString(pr.Path[j][:])
		}
		if err := menc.Encode(line); err != nil {
			return err
		}
		if k := (sealKey{pr.Seal.Day, pr.Seal.Addendum}); !written[k] {
			written[k] = true
			if err := senc.Encode(pr.Seal); err != nil {
				return err
			}
		}
	}
	for name, b := range map[string][]byte{exportPcap: pcap.Bytes(), exportManifest: manifest.Bytes(), exportSeals: seals.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return nil
}

// parseManifestLine reads one line of manifest.jsonl and checks it on its
// own: the canonical packet decodes, and the leaf is its hash.
func parseManifestLine(b []byte) (manifestLine, hepvault.Packet, []store.Hash, error) {
	var m manifestLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, hepvault.Packet{}, nil, fmt.Errorf("not a manifest line: %v", err)
	}
	canon, err := base64.StdEncoding.DecodeString(m.Canonical)
	if err != nil {
		return m, hepvault.Packet{}, nil, errors.New("canonical is not base64")
	}
	p, err := store.DecodeCanonical(canon)
	if err != nil {
		return m, hepvault.Packet{}, nil, err
	}
	leaf := store.LeafHash(canon)
	if m.Leaf != hex.EncodeToString(leaf[:]) {
		return m, p, nil, fmt.Errorf("leaf %s is not the hash of the packet (%x)", m.Leaf, leaf)
	}
	if p.ID != m.ID || p.CapturedAt.Format("2006-01-02T15:04:05.000000Z") != m.CapturedAt || p.CallID != m.CallID {
		return m, p, nil, errors.New("id, captured_at or call_id differ from the packet's")
	}
	if len(m.Proof) > 64 {
		return m, p, nil, errors.New("proof longer than any tree's")
	}
	path := make([]store.Hash, len(m.Proof))
	for i, h := range m.Proof {
		v, err := hex.DecodeString(h)
		if err != nil || len(v) != len(path[i]) {
			return m, p, nil, fmt.Errorf("proof step %d is not 64 hex digits", i+1)
		}
		path[i] = store.Hash(v)
	}
	return m, p, path, nil
}

// runVerifyExport is `hepvault verify-export DIR`: the export checked on
// its own, with no database.
func runVerifyExport(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify-export", stderr)
	keyFile := fs.String("key", "", "the Ed25519 public key (PEM) that must have signed the seals")
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if dir == "" {
		return usagef("verify-export: give the export's folder: hepvault verify-export DIR [--key PUB.pem]")
	}
	var pub ed25519.PublicKey
	if *keyFile != "" {
		var err error
		if pub, err = readPublicKey(*keyFile); err != nil {
			return err
		}
	}
	problems, summary, err := verifyExport(dir, pub)
	if err != nil {
		return err
	}
	for i, p := range problems {
		if i == maxShown {
			fmt.Fprintf(stdout, "... and %d more\n", len(problems)-maxShown)
			break
		}
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintln(stdout, summary)
	if len(problems) > 0 {
		return fmt.Errorf("verify-export: %w: %d problems, the first: %s", errMismatch, len(problems), problems[0])
	}
	return nil
}

// verifyExport checks the export in dir; each problem names its file.
func verifyExport(dir string, pub ed25519.PublicKey) (problems []string, summary string, err error) {
	bad := func(file, format string, args ...any) {
		problems = append(problems, file+": "+fmt.Sprintf(format, args...))
	}
	sf, err := os.Open(filepath.Join(dir, exportSeals))
	if err != nil {
		return nil, "", fmt.Errorf("verify-export: %w", err)
	}
	statements, err := store.ReadStatements(sf)
	sf.Close()
	if err != nil {
		bad(exportSeals, "%v", err)
	}
	type sealKey struct {
		day      string
		addendum int
	}
	seals := map[sealKey]store.Seal{}
	signed := 0
	for _, s := range statements {
		k := sealKey{s.Day.Format(time.DateOnly), s.Addendum}
		if err := s.CheckSignature(pub); err != nil {
			bad(exportSeals, "seal %d of %s: %v", k.addendum, k.day, err)
			continue
		}
		if s.Signature != nil {
			signed++
		}
		seals[k] = s
	}

	mf, err := os.Open(filepath.Join(dir, exportManifest))
	if err != nil {
		return nil, "", fmt.Errorf("verify-export: %w", err)
	}
	defer mf.Close()
	var pkts []hepvault.Packet
	sc := bufio.NewScanner(mf)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		m, p, path, err := parseManifestLine(sc.Bytes())
		if err != nil {
			bad(exportManifest, "line %d: %v", line, err)
			continue
		}
		if m.Packet != line {
			bad(exportManifest, "line %d says it is packet %d", line, m.Packet)
		}
		pkts = append(pkts, p)
		s, ok := seals[sealKey{m.Day, m.Addendum}]
		switch {
		case !ok:
			bad(exportManifest, "line %d (packet id %d): no valid seal %d of %s in %s", line, m.ID, m.Addendum, m.Day, exportSeals)
		case p.CapturedAt.UTC().Format(time.DateOnly) != m.Day:
			bad(exportManifest, "line %d (packet id %d): captured on another day than its seal's", line, m.ID)
		default:
			leaf := store.LeafHash(store.AppendCanonical(nil, &p))
			if err := store.VerifyInclusion(leaf, m.Index, uint64(s.Count), path, s.Root); err != nil {
				bad(exportManifest, "line %d (packet id %d): %v of seal %d of %s", line, m.ID, err, m.Addendum, m.Day)
			}
		}
	}
	if err := sc.Err(); err != nil {
		bad(exportManifest, "%v", err)
	}

	// The pcap must be the one these packets make.
	got, err := os.ReadFile(filepath.Join(dir, exportPcap))
	if err != nil {
		return nil, "", fmt.Errorf("verify-export: %w", err)
	}
	var want bytes.Buffer
	if err := pcapout.Write(&want, pkts); err != nil {
		return nil, "", err
	}
	if !bytes.Equal(got, want.Bytes()) {
		bad(exportPcap, "%s", firstFrameDiff(got, want.Bytes()))
	}
	summary = fmt.Sprintf("%d packets, %d seals (%d signed)", len(pkts), len(seals), signed)
	if len(problems) == 0 {
		summary += ": every packet is in its seal and the pcap holds them"
		if signed < len(seals) {
			summary += "; unsigned seals prove only what the statements kept outside the database confirm"
		}
	}
	return problems, summary, nil
}

// firstFrameDiff says where two pcap files first differ.
func firstFrameDiff(got, want []byte) string {
	gr, err1 := pcapgo.NewReader(bytes.NewReader(got))
	wr, err2 := pcapgo.NewReader(bytes.NewReader(want))
	if err1 != nil || err2 != nil {
		return "not the pcap the manifest's packets make (its header differs)"
	}
	for frame := 1; ; frame++ {
		g, gci, gerr := gr.ReadPacketData()
		w, wci, werr := wr.ReadPacketData()
		switch {
		case gerr != nil && werr != nil:
			return "not the pcap the manifest's packets make"
		case gerr != nil:
			return fmt.Sprintf("ends at frame %d; the manifest's packets make more", frame)
		case werr != nil:
			return fmt.Sprintf("frame %d is more than the manifest's packets make", frame)
		case !bytes.Equal(g, w) || !gci.Timestamp.Equal(wci.Timestamp):
			return fmt.Sprintf("frame %d differs from the manifest's packets", frame)
		}
	}
}
