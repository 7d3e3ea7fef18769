// Package diskspace tells how large a filesystem is and how much of it is
// free, for the disk guard (store/retention.go) and for sizing the embedded
// PostgreSQL's WAL (store/pgembed).
package diskspace

import "errors"

// Usage is a filesystem's size and what an unprivileged process may still
// write to it, in bytes.
type Usage struct {
	Total int64
	Free  int64 // available to unprivileged users: root's reserve excluded
}

// ErrUnsupported: this platform cannot tell.
var ErrUnsupported = errors.New("diskspace: not supported on this platform")

// Of returns the usage of the filesystem that holds path.
func Of(path string) (Usage, error) { return of(path) }
