package api

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hepvault/hepvault"
)

// DefaultLimit is how many packets a listing returns when limit is not given.
const DefaultLimit = 100

// MaxLimit caps limit.
const MaxLimit = 10000

var packetParams = map[string]bool{
	"from": true, "to": true, "limit": true, "cursor": true, "format": true,
	"kind": true, "method": true, "status": true, "call_id": true,
	"src_ip": true, "dst_ip": true, "capture_id": true,
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{hepvault.ErrInvalid}, args...)...)
}

// parseFilter reads the packet listing's query parameters. An unknown
// parameter is an error: a typo ("limt") must not silently widen a query.
func parseFilter(q url.Values) (hepvault.Filter, error) {
	var f hepvault.Filter
	for name := range q {
		if !packetParams[name] {
			return f, invalid("unknown parameter %q", name)
		}
	}
	var err error
	for _, name := range []string{"method", "call_id"} {
		if err := checkText(name, q.Get(name)); err != nil {
			return f, err
		}
	}
	if v := q.Get("from"); v != "" {
		if f.From, err = hepvault.ParseTime(v); err != nil {
			return f, fmt.Errorf("from: %w", err)
		}
	}
	if v := q.Get("to"); v != "" {
		if f.To, err = hepvault.ParseTime(v); err != nil {
			return f, fmt.Errorf("to: %w", err)
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, invalid("to (%s) must be after from (%s)", f.To.Format(time.RFC3339Nano), f.From.Format(time.RFC3339Nano))
	}
	f.Limit = DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return f, invalid("limit must be a whole number from 1 to %d, not %q", MaxLimit, v)
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		pos, err := decodeCursor(v)
		if err != nil {
			return f, err
		}
		f.After = &pos
	}
	if v := q.Get("kind"); v != "" {
		k, ok := hepvault.ParseKind(v)
		if !ok {
			return f, invalid("kind must be request, response or invalid, not %q", v)
		}
		f.Kind = &k
	}
	if v := q.Get("method"); v != "" {
		// Every method in use is upper case; "invite" means INVITE.
		f.Method = strings.ToUpper(v)
	}
	if v := q.Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 699 {
			return f, invalid("status must be a status code from 100 to 699, not %q", v)
		}
		f.Status = n
	}
	f.CallID = q.Get("call_id")
	for _, ip := range []struct {
		name string
		dst  *netip.Addr
	}{{"src_ip", &f.SrcIP}, {"dst_ip", &f.DstIP}} {
		if v := q.Get(ip.name); v != "" {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return f, invalid("%s must be an IPv4 or IPv6 address, not %q", ip.name, v)
			}
			*ip.dst = a.Unmap()
		}
	}
	if v := q.Get("capture_id"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return f, invalid("capture_id must be a whole number from 0 to 4294967295, not %q", v)
		}
		id := uint32(n)
		f.CaptureID = &id
	}
	return f, nil
}

// checkText refuses what PostgreSQL text cannot hold (NUL, invalid UTF-8):
// no stored value can match it, and the database would answer with an error.
func checkText(name, v string) error {
	if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		return invalid("%s must be UTF-8 text without NUL bytes, not %q", name, v)
	}
	return nil
}

// A cursor is the position of the last packet of a page: capture time in
// unix microseconds and id, opaque to clients.
func encodeCursor(p hepvault.Packet) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.CapturedAt.UnixMicro(), 10) + "." + strconv.FormatInt(p.ID, 10)))
}

func decodeCursor(s string) (hepvault.Position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		us, id, ok := strings.Cut(string(b), ".")
		u, err1 := strconv.ParseInt(us, 10, 64)
		i, err2 := strconv.ParseInt(id, 10, 64)
		if ok && err1 == nil && err2 == nil {
			return hepvault.Position{CapturedAt: time.UnixMicro(u).UTC(), ID: i}, nil
		}
	}
	return hepvault.Position{}, invalid("cursor %q is not one this server gave out (use the \"next\" of a previous answer)", s)
}
