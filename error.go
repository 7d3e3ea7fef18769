package hepvault

import "errors"

// Error kinds shared across packages; callers test them with errors.Is.
var (
	// ErrInvalid: the caller asked for something malformed (a bad parameter).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: nothing matches.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the database does not answer.
	ErrUnavailable = errors.New("database unavailable")
)
