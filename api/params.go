package api

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
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

// MaxListValues caps how many comma-separated values a list parameter
// (method=INVITE,BYE) may hold.
const MaxListValues = 100

var packetParams = map[string]bool{
	"from": true, "to": true, "limit": true, "cursor": true, "format": true,
	"kind": true, "method": true, "status": true, "status_class": true,
	"call_id": true, "correlation_id": true,
	"src_ip": true, "dst_ip": true, "ip": true, "capture_id": true,
	"from_user": true, "to_user": true, "ruri_user": true, "user": true,
	"text": true,
}

// textParams hold free text, matched as given: they must be text that
// PostgreSQL can hold (checkText).
var textParams = []string{"method", "call_id", "correlation_id", "from_user", "to_user", "ruri_user", "user", "text"}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{hepvault.ErrInvalid}, args...)...)
}

// parseFilter reads the packet listing's query parameters. An unknown
// parameter is an error: a typo ("limt") must not silently widen a query.
// So is a parameter given twice: a list is one comma-separated value.
func parseFilter(q url.Values) (hepvault.Filter, error) {
	var f hepvault.Filter
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !packetParams[name] {
			return f, invalid("unknown parameter %q", name)
		}
		if n := len(q[name]); n > 1 {
			return f, invalid("%s is given %d times; give it once, with a list as comma-separated values (method=INVITE,BYE)", name, n)
		}
	}
	var err error
	for _, name := range textParams {
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
	if f.Kinds, err = parseList(q, "kind", "request, response or invalid", hepvault.ParseKind); err != nil {
		return f, err
	}
	// Every method in use is upper case; "invite" means INVITE.
	if f.Methods, err = parseList(q, "method", "a request method", func(s string) (string, bool) { return strings.ToUpper(s), true }); err != nil {
		return f, err
	}
	if f.Statuses, err = parseList(q, "status", "a status code from 100 to 699", parseStatus); err != nil {
		return f, err
	}
	if f.StatusClasses, err = parseList(q, "status_class", "a status class from 1xx to 6xx", parseStatusClass); err != nil {
		return f, err
	}
	for _, ip := range []struct {
		name string
		dst  *[]netip.Addr
	}{{"src_ip", &f.SrcIPs}, {"dst_ip", &f.DstIPs}, {"ip", &f.IPs}} {
		if *ip.dst, err = parseList(q, ip.name, "an IPv4 or IPv6 address", parseAddr); err != nil {
			return f, err
		}
	}
	if f.CaptureIDs, err = parseList(q, "capture_id", "a whole number from 0 to 4294967295", parseCaptureID); err != nil {
		return f, err
	}
	f.CallID = q.Get("call_id")
	f.CorrelationID = q.Get("correlation_id")
	f.FromUser = q.Get("from_user")
	f.ToUser = q.Get("to_user")
	f.RURIUser = q.Get("ruri_user")
	f.User = q.Get("user")
	if f.Text = q.Get("text"); f.Text != "" {
		if err := checkTextWindow(f.From, f.To); err != nil {
			return f, err
		}
	}
	return f, nil
}

// parseList reads a comma-separated list parameter, each value by parse;
// an absent or empty parameter is no list. want says what a value must be.
func parseList[T any](q url.Values, name, want string, parse func(string) (T, bool)) ([]T, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	if n := strings.Count(v, ",") + 1; n > MaxListValues {
		return nil, invalid("%s lists %d values; at most %d are allowed", name, n, MaxListValues)
	}
	parts := strings.Split(v, ",")
	out := make([]T, 0, len(parts))
	for _, p := range parts {
		p = strings.Trim(p, " \t")
		if p == "" {
			return nil, invalid("%s has an empty value in %q: separate values with single commas, none at either end", name, v)
		}
		x, ok := parse(p)
		if !ok {
			if len(parts) > 1 {
				return nil, invalid("%s must be %s, not %q (in %q)", name, want, p, v)
			}
			return nil, invalid("%s must be %s, not %q", name, want, p)
		}
		out = append(out, x)
	}
	return out, nil
}

func parseStatus(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 100 && n <= 699
}

// parseStatusClass reads "1xx" to "6xx", in any case.
func parseStatusClass(s string) (hepvault.StatusClass, bool) {
	if len(s) != 3 || s[0] < '1' || s[0] > '6' || !strings.EqualFold(s[1:], "xx") {
		return 0, false
	}
	return hepvault.StatusClass(s[0] - '0'), true
}

// parseAddr reads an address as stored: an IPv4-mapped IPv6 address is
// its IPv4 address.
// parseAddr reads an address as stored: IPv4-mapped addresses as IPv4, no
// IPv6 zone (a HEP agent sends none, and none is kept).
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a.WithZone("").Unmap(), err == nil
}

func parseCaptureID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// checkTextWindow refuses a text search without a bounded window: text is
// found by reading every packet of the window, not through an index.
func checkTextWindow(from, to time.Time) error {
	const why = "text= searches the raw messages one by one, so it needs from and to at most %s apart"
	widest := fmtHours(hepvault.MaxTextWindow)
	switch {
	case from.IsZero() && to.IsZero():
		return invalid(why+"; neither is given", widest)
	case from.IsZero():
		return invalid(why+"; from is missing", widest)
	case to.IsZero():
		return invalid(why+"; to is missing", widest)
	case to.Sub(from) > hepvault.MaxTextWindow:
		return invalid(why+", not %s", widest, to.Sub(from))
	}
	return nil
}

// fmtHours writes a whole number of hours as "24h", anything else as
// time.Duration does.
func fmtHours(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
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
