package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// writeKeys writes a fresh Ed25519 key pair as openssl does: the private
// key in PKCS #8 PEM, the public one in PKIX PEM.
func writeKeys(t *testing.T) (priv, pub string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "seal.key"), filepath.Join(dir, "seal.pub")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return out.String() + errOut.String(), err
}

func sealedCount(seals []store.Seal) int64 {
	n := int64(0)
	for _, s := range seals {
		n += s.Count
	}
	return n
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range []string{exportPcap, exportManifest, exportSeals} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// serve seals the fixture's day as its packets arrive (a past day: at once,
// then addenda for the rest), the statements it exports verify, an export
// of one call proves itself, and a change to the store or to any file of
// the export is named.
func TestSeal_EndToEnd(t *testing.T) {
	keyFile, pubFile := writeKeys(t)
	s := startTestServerWith(t, func(c *serveConfig) {
		c.Seal = sealConfig{After: time.Second, KeyFile: keyFile, Every: 100 * time.Millisecond}
	})
	dsn := s.cfg.DB
	recs := fixture.Load(t, fixture.HEP3)
	sendUDPInStep(t, s, recs)
	waitStored(t, s, len(recs))
	waitUntil(t, 30*time.Second, "every packet sealed", func() bool {
		seals, err := s.db.Seals(context.Background(), time.Time{}, time.Time{})
		return err == nil && sealedCount(seals) == int64(len(recs))
	})

	// Packets that arrive for the sealed day go into an addendum, after
	// the grace.
	sendUDPInStep(t, s, recs[:10])
	waitStored(t, s, len(recs)+10)
	waitUntil(t, 30*time.Second, "the late packets sealed as an addendum", func() bool {
		day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
		seals, err := s.db.Seals(context.Background(), day, day.Add(24*time.Hour))
		return err == nil && len(seals) >= 2 && sealedCount(seals) == int64(len(recs)+10)
	})

	out, err := runCmd(t, "seals", "export", "--db", dsn)
	if err != nil || !strings.Contains(out, `"day":"2026-11-25"`) || !strings.Contains(out, `"signature":"`) {
		t.Fatalf("unexpected seals export; got %s, %v", out, err)
	}
	stmts := filepath.Join(t.TempDir(), "seals.jsonl")
	if err := os.WriteFile(stmts, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(t, "verify", "--db", dsn, "--statements", stmts, "--key", pubFile); err != nil || !strings.Contains(out, "everything matches") {
		t.Fatalf("unexpected verify of an untouched store; got %s, %v", out, err)
	}

	// An export of one call, checked without the database.
	calls := map[string]int{}
	callID := ""
	for _, r := range recs {
		if calls[r.Truth.CallID]++; calls[r.Truth.CallID] > calls[callID] {
			callID = r.Truth.CallID
		}
	}
	dir := filepath.Join(t.TempDir(), "export")
	if out, err := runCmd(t, "export", "--db", dsn, "--out", dir, "--call-id", callID); err != nil {
		t.Fatalf("export: %s, %v", out, err)
	}
	if out, err := runCmd(t, "verify-export", dir, "--key", pubFile); err != nil || !strings.Contains(out, "every packet is in its seal") {
		t.Fatalf("unexpected verify-export of an untouched export; got %s, %v", out, err)
	}
	tamper := func(name string, edit func([]byte) []byte) {
		t.Run("export "+name, func(t *testing.T) {
			d := copyDir(t, dir)
			b, err := os.ReadFile(filepath.Join(d, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, name), edit(b), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := runCmd(t, "verify-export", d, "--key", pubFile)
			if !errors.Is(err, errMismatch) || !strings.HasPrefix(out, name+": ") {
				t.Fatalf("unexpected verify-export after changing %s; got %s, %v; want its name first", name, out, err)
			}
			t.Log(out)
		})
	}
	tamper(exportPcap, func(b []byte) []byte { b[len(b)-3] ^= 0x20; return b })
	tamper(exportManifest, func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"canonical":"A`), []byte(`"canonical":"B`), 1)
	})
	tamper(exportSeals, func(b []byte) []byte {
		i := bytes.Index(b, []byte(`"root":"`)) + len(`"root":"`)
		if b[i] == '0' {
			b[i] = 'f'
		} else {
			b[i] = '0'
		}
		return b
	})

	// A packet changed in the store.
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// A block some seal of the day covers: the day is sealed as its packets
	// arrive, so which seal holds the first block depends on timing.
	if _, err := conn.Exec(context.Background(), `UPDATE packet_blocks SET packets[1].method = 'TAMPERED'
		WHERE (first_at, first_id) = (SELECT first_at, first_id FROM seal_blocks
			WHERE day = '2026-11-25' ORDER BY addendum, first_at, first_id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	out, err = runCmd(t, "verify", "--db", dsn, "--day", "2026-11-25", "--statements", stmts)
	var ue usageError
	if !errors.Is(err, errMismatch) || errors.As(err, &ue) || !regexp.MustCompile(`^2026-11-25 \(seal \d+\): packet changed: block \(`).MatchString(out) {
		t.Fatalf("unexpected verify of a changed packet; got %s, %v; want the packet named and exit code 1", out, err)
	}
	t.Log(out)
}

// A wrong command line is exit code 2, before any database is asked.
func TestVerify_Usage(t *testing.T) {
	for _, args := range [][]string{
		{"verify", "--day", "yesterday"},
		{"verify", "--day", "2026-12-03", "--from", "2026-12-01T00:00:00Z"},
		{"verify", "--from", "2026-12-03T00:00:00Z", "--to", "2026-12-01T00:00:00Z"},
		{"seals"},
		{"export", "--db", "postgres://127.0.0.1:1/x"},
		{"export", "--db", "postgres://127.0.0.1:1/x", "--out", t.TempDir()},
		{"verify-export"},
		{"serve", "--seal-after", "0"},
	} {
		out, err := runCmd(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: unexpected outcome; got %v (%s); want a usage error", args, err, out)
		}
	}
}
