package api

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Role is what a token may do; each role may do what the ones before it may.
type Role uint8

// Roles, from the least to the most allowed.
const (
	RoleRead   Role = iota + 1 // packets, calls, statistics, coverage, metrics
	RoleExport                 // also pcap files
	RoleAdmin                  // also the access log and legal holds
)

var roleNames = map[Role]string{RoleRead: "read", RoleExport: "export", RoleAdmin: "admin"}

func (r Role) String() string { return roleNames[r] }

func (r Role) allows(need Role) bool { return r >= need }

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for r, name := range roleNames {
		if name == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: role %q: want read, export or admin", ErrTokens, s)
}

// Token is a named API token: only its SHA-256 is kept.
type Token struct {
	Name string
	Role Role
	Hash [sha256.Size]byte
}

// ErrTokens is wrapped by every error of a tokens file.
var ErrTokens = errors.New("tokens file")

// maxTokenName bounds a token's name, which the access log keeps.
const maxTokenName = 64

// ParseTokens reads a tokens file: one token a line, "NAME ROLE SHA256",
// fields separated by spaces or tabs, where NAME is letters, digits, '.',
// '-' and '_' (at most 64), ROLE is read, export or admin, and SHA256 is
// the hex SHA-256 of the token (64 hex digits, either case). Blank lines
// and lines starting with '#' are skipped. A name or a hash given twice is
// an error: two tokens must not be told apart by order.
func ParseTokens(r io.Reader) ([]Token, error) {
	var out []Token
	names, hashes := map[string]bool{}, map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: line %d: want \"NAME ROLE SHA256\", got %d fields", ErrTokens, n, len(f))
		}
		if !validTokenName(f[0]) {
			return nil, fmt.Errorf("%w: line %d: name %q: want 1 to %d letters, digits, '.', '-' or '_'", ErrTokens, n, f[0], maxTokenName)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		var t Token
		if len(f[2]) != 2*sha256.Size {
			return nil, fmt.Errorf("%w: line %d: hash: want 64 hex digits (the SHA-256 of the token), got %d characters", ErrTokens, n, len(f[2]))
		}
		if _, err := hex.Decode(t.Hash[:], []byte(f[2])); err != nil {
			return nil, fmt.Errorf("%w: line %d: hash is not hex", ErrTokens, n)
		}
		t.Name, t.Role = f[0], role
		if names[t.Name] || hashes[t.Hash] {
			return nil, fmt.Errorf("%w: line %d: token %q or its hash is given twice", ErrTokens, n, t.Name)
		}
		names[t.Name], hashes[t.Hash] = true, true
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokens, err)
	}
	return out, nil
}

func validTokenName(s string) bool {
	if s == "" || len(s) > maxTokenName {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// NewToken makes a random token (32 bytes, URL-safe base64) for name and
// role, and the tokens file line that lets it in.
func NewToken(name string, role Role) (token, line string, err error) {
	if !validTokenName(name) {
		return "", "", fmt.Errorf("%w: name %q: want 1 to %d letters, digits, '.', '-' or '_'", ErrTokens, name, maxTokenName)
	}
	if roleNames[role] == "" {
		return "", "", fmt.Errorf("%w: unknown role", ErrTokens)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, name + " " + role.String() + " " + hex.EncodeToString(sum[:]), nil
}
