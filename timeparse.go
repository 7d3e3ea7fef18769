package hepvault

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// zoneOffsets gives the UTC offset, in minutes, of the time zone
// abbreviations `date` prints. Go's own parser gives an unknown abbreviation
// offset zero, which would silently shift a trainee's "12:20:33 CET" by an
// hour; so hepvault knows these and refuses the rest. Where an abbreviation
// is ambiguous the more common reading is taken (IST: India, CST: US Central).
var zoneOffsets = map[string]int{
	"UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60,
	"CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180,
	"WAT": 60, "CAT": 120, "EAT": 180, "SAST": 120,
	"EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
	"PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
	"AST": -240, "ADT": -180, "NST": -210, "NDT": -150, "BRT": -180, "ART": -180,
	"IST": 330, "PKT": 300, "HKT": 480, "SGT": 480, "AWST": 480, "JST": 540, "KST": 540,
	"ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
}

// Layouts of `date`'s default output in common locales, with the zone as a
// numeric offset (ParseTime puts it there).
var dateLayouts = []string{
	"Mon Jan _2 15:04:05 -0700 2006",    // C / POSIX locale: Wed Nov 25 12:20:33 UTC 2026
	"Mon Jan _2 03:04:05 PM -0700 2006", // en_US
	"Mon _2 Jan 15:04:05 -0700 2006",    // en_GB
	"Mon _2 Jan 2006 03:04:05 PM -0700", // en_US, newer coreutils
	"Mon _2 Jan 2006 15:04:05 -0700",
	"Mon, _2 Jan 2006 15:04:05 -0700", // date -R
	"Mon Jan _2 15:04:05 2006 -0700",
}

// ParseTime reads a point in time as a person writes it down: RFC 3339 with
// any offset ("2026-11-25T12:20:33.5+01:00", a space for the T is fine), unix
// seconds with an optional fraction ("1795609948.258647"), or the default
// output of `date` ("Wed Nov 25 12:20:33 UTC 2026"), whose zone abbreviation
// must be one hepvault knows. A time without a zone is refused: it would be
// read in somebody's zone, and the answer would silently be off by hours.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty time", ErrInvalid)
	}
	if t, ok := parseUnix(s); ok {
		return t, nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		return parseRFC3339(s)
	}
	return parseDate(s)
}

func parseUnix(s string) (time.Time, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || len(frac) > 9 || !digits(whole) || !digits(frac) {
		return time.Time{}, false
	}
	sec, _ := strconv.ParseInt(whole, 10, 64)
	nsec := int64(0)
	if frac != "" {
		nsec, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	return time.Unix(sec, nsec).UTC(), true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseRFC3339(s string) (time.Time, error) {
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t.UTC(), nil
	}
	if _, err2 := time.Parse("2006-01-02T15:04:05.999999999", s); err2 == nil {
		return time.Time{}, fmt.Errorf("%w: time %q has no zone: add Z for UTC or an offset like +01:00", ErrInvalid, s)
	}
	return time.Time{}, errNotATime(s)
}

func parseDate(s string) (time.Time, error) {
	fields := strings.Fields(s)
	zoneAt := -1
	for i, f := range fields {
		if isZoneWord(f) {
			zoneAt = i
		}
	}
	if zoneAt < 0 {
		if parsesWithoutZone(fields) {
			return time.Time{}, fmt.Errorf("%w: time %q has no zone: write it as `date` prints it, with its zone (UTC, CET, ...), or in RFC 3339 with an offset", ErrInvalid, s)
		}
		return time.Time{}, errNotATime(s)
	}
	if off, ok := zoneOffsets[fields[zoneAt]]; ok {
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		fields[zoneAt] = fmt.Sprintf("%c%02d%02d", sign, off/60, off%60)
	} else if !isOffset(fields[zoneAt]) {
		return time.Time{}, fmt.Errorf("%w: time zone %q is not one hepvault knows: give the time in RFC 3339 with a numeric offset, or run `TZ=UTC date`", ErrInvalid, fields[zoneAt])
	}
	norm := strings.Join(fields, " ")
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, norm); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errNotATime(s)
}

func errNotATime(s string) error {
	return fmt.Errorf("%w: time %q is not RFC 3339 (2026-11-25T12:20:33Z), unix seconds, or date output (Wed Nov 25 12:20:33 UTC 2026)", ErrInvalid, s)
}

// parsesWithoutZone tells a date output whose zone is missing from text
// that is no time at all, to say which it is.
func parsesWithoutZone(fields []string) bool {
	for _, layout := range dateLayouts {
		l := strings.Fields(layout)
		var kept []string
		for _, w := range l {
			if w != "-0700" {
				kept = append(kept, w)
			}
		}
		if _, err := time.Parse(strings.Join(kept, " "), strings.Join(fields, " ")); err == nil {
			return true
		}
	}
	return false
}

// isZoneWord tells a zone (an abbreviation in capitals, or +0100) from the
// other words of date's output: weekdays, months and AM/PM.
func isZoneWord(f string) bool {
	if isOffset(f) {
		return true
	}
	if len(f) < 1 || len(f) > 5 || f == "AM" || f == "PM" {
		return false
	}
	for i := 0; i < len(f); i++ {
		if f[i] < 'A' || f[i] > 'Z' {
			return false
		}
	}
	return true
}

func isOffset(f string) bool {
	return len(f) == 5 && (f[0] == '+' || f[0] == '-') && digits(f[1:])
}
