package api

import (
	"net/url"

	"github.com/hepvault/hepvault"
)

// ParseFilter reads a packet filter as GET /api/v1/packets takes it, for a
// command that asks the store itself (hepvault export); errors wrap
// hepvault.ErrInvalid and say what was wrong.
func ParseFilter(q url.Values) (hepvault.Filter, error) { return parseFilter(q) }
