package hepvault

import (
	"net/netip"
	"time"
)

// Filter selects stored packets. Zero fields do not filter.
type Filter struct {
	From time.Time // inclusive; zero: no lower bound
	To   time.Time // exclusive; zero: no upper bound

	Kind      *Kind
	Method    string
	Status    int
	CallID    string
	SrcIP     netip.Addr
	DstIP     netip.Addr
	CaptureID *uint32

	// After resumes a listing: only packets strictly after this position in
	// (CapturedAt, ID) order.
	After *Position

	Limit int
}

// Position is a place in the (capture time, arrival) order of packets: what a
// page cursor encodes.
type Position struct {
	CapturedAt time.Time
	ID         int64
}
