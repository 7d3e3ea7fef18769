package store

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Seal is one seal of a day: the root of the tree over the packets it
// covers. Addendum 0 covers the day's packets once the day ended and the
// grace passed; addendum n > 0 the packets stored for the day after seal
// n-1 was made.
type Seal struct {
	Day      time.Time // UTC midnight
	Addendum int
	Count    int64
	Root     Hash
	SealedAt time.Time // microseconds, UTC
	// KeyID and Signature are set when the seal was signed (Ed25519):
	// KeyID is the first 8 bytes of SHA-256 of the public key, in hex.
	KeyID     string
	PublicKey ed25519.PublicKey
	Signature []byte
	// DroppedAt, in the database only, is when retention or the disk
	// guard dropped the day's packets; zero while they are kept.
	DroppedAt time.Time
}

// Message is what a signature signs, one line of ASCII without newline:
//
//	hepvault seal v1 day=2026-12-03 addendum=0 count=123 root=<64 hex> sealed_at=2026-12-04T01:00:00.123456Z
func (s *Seal) Message() []byte {
	return []byte("hepvault seal v1 day=" + s.Day.Format(time.DateOnly) + " addendum=" + strconv.Itoa(s.Addendum) +
		" count=" + strconv.FormatInt(s.Count, 10) + " root=" + hex.EncodeToString(s.Root[:]) +
		" sealed_at=" + formatSealTime(s.SealedAt))
}

func formatSealTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// KeyID names an Ed25519 public key in statements.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// sign sets the seal's key and signature.
func (s *Seal) sign(key ed25519.PrivateKey) {
	if key == nil {
		return
	}
	s.PublicKey = key.Public().(ed25519.PublicKey)
	s.KeyID = KeyID(s.PublicKey)
	s.Signature = ed25519.Sign(key, s.Message())
}

// Errors of statements.
var (
	ErrBadStatement = errors.New("malformed seal statement")
	ErrSignature    = errors.New("seal signature does not verify")
)

// CheckSignature verifies a signed seal's signature against its public key
// (and, when pub is given, that the key is pub). An unsigned seal passes
// unless pub is given.
func (s *Seal) CheckSignature(pub ed25519.PublicKey) error {
	if s.Signature == nil && s.PublicKey == nil && pub == nil {
		return nil
	}
	switch {
	case len(s.PublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: no public key", ErrSignature)
	case pub != nil && !pub.Equal(s.PublicKey):
		return fmt.Errorf("%w: signed by key %s, not by %s", ErrSignature, s.KeyID, KeyID(pub))
	case s.KeyID != KeyID(s.PublicKey):
		return fmt.Errorf("%w: key id %s does not name its public key", ErrSignature, s.KeyID)
	case !ed25519.Verify(s.PublicKey, s.Message(), s.Signature):
		return ErrSignature
	}
	return nil
}

// statementJSON is a statement as a JSON line (README.md, "Sealed days").
type statementJSON struct {
	Day       string  `json:"day"`
	Addendum  int     `json:"addendum"`
	Count     int64   `json:"count"`
	Root      string  `json:"root"`
	SealedAt  string  `json:"sealed_at"`
	KeyID     *string `json:"key_id"`
	PublicKey *string `json:"public_key"`
	Signature *string `json:"signature"`
}

// MarshalJSON writes the seal as its statement.
func (s Seal) MarshalJSON() ([]byte, error) {
	j := statementJSON{Day: s.Day.Format(time.DateOnly), Addendum: s.Addendum, Count: s.Count,
		Root: hex.EncodeToString(s.Root[:]), SealedAt: formatSealTime(s.SealedAt)}
	if s.Signature != nil {
		kid, pub, sig := s.KeyID, base64.StdEncoding.EncodeToString(s.PublicKey), base64.StdEncoding.EncodeToString(s.Signature)
		j.KeyID, j.PublicKey, j.Signature = &kid, &pub, &sig
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a statement.
func (s *Seal) UnmarshalJSON(b []byte) error {
	var j statementJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrBadStatement, err)
	}
	d, err := time.Parse(time.DateOnly, j.Day)
	if err != nil {
		return fmt.Errorf("%w: day %q", ErrBadStatement, j.Day)
	}
	at, err := time.Parse(time.RFC3339Nano, j.SealedAt)
	if err != nil {
		return fmt.Errorf("%w: sealed_at %q", ErrBadStatement, j.SealedAt)
	}
	root, err := hex.DecodeString(j.Root)
	if err != nil || len(root) != len(Hash{}) {
		return fmt.Errorf("%w: root %q is not 64 hex digits", ErrBadStatement, j.Root)
	}
	if j.Addendum < 0 || j.Count < 0 {
		return fmt.Errorf("%w: negative addendum or count", ErrBadStatement)
	}
	out := Seal{Day: d, Addendum: j.Addendum, Count: j.Count, Root: Hash(root), SealedAt: at.UTC()}
	if j.Signature != nil || j.PublicKey != nil || j.KeyID != nil {
		if j.Signature == nil || j.PublicKey == nil || j.KeyID == nil {
			return fmt.Errorf("%w: key_id, public_key and signature go together", ErrBadStatement)
		}
		pub, err1 := base64.StdEncoding.DecodeString(*j.PublicKey)
		sig, err2 := base64.StdEncoding.DecodeString(*j.Signature)
		if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return fmt.Errorf("%w: public_key or signature is not an Ed25519 one in base64", ErrBadStatement)
		}
		out.KeyID, out.PublicKey, out.Signature = *j.KeyID, pub, sig
	}
	*s = out
	return nil
}

// ReadStatements reads statements, one JSON object a line; blank lines
// are passed over. An error names the line.
func ReadStatements(r io.Reader) ([]Seal, error) {
	var out []Seal
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		var s Seal
		if err := s.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// ParseSealKey reads an Ed25519 private key in PEM, PKCS #8 ("PRIVATE
// KEY"), as `openssl genpkey -algorithm ed25519` writes it.
func ParseSealKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" (make one with: openssl genpkey -algorithm ed25519 -out seal.key)")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS #8 private key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return ek, nil
}

// ParsePublicKey reads an Ed25519 public key in PEM ("PUBLIC KEY", as
// `openssl pkey -pubout` writes it).
func ParsePublicKey(pemBytes []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\" (openssl pkey -in seal.key -pubout)")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return ek, nil
}
