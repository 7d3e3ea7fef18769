package store

import (
	"strings"
	"unicode/utf8"
)

// cleanText makes s fit a PostgreSQL text value and a JSON string, which
// refuse NUL bytes and invalid UTF-8: both become U+FFFD. Raw keeps the
// original bytes.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
