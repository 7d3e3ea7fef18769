package hepvault

import (
	"net/netip"
	"time"
)

// Filter selects stored packets. Zero fields do not filter; the fields that
// are set must all hold, and a list holds when any of its values does.
type Filter struct {
	From time.Time // inclusive; zero: no lower bound
	To   time.Time // exclusive; zero: no upper bound

	Kinds         []Kind
	Methods       []string
	Statuses      []int
	StatusClasses []StatusClass
	CallID        string
	CorrelationID string
	SrcIPs        []netip.Addr
	DstIPs        []netip.Addr
	IPs           []netip.Addr // source or destination
	CaptureIDs    []uint32

	// Users match the user parts of a packet's URIs by UserKey, so a
	// telephone number matches with or without its '+' and separators.
	FromUser string
	ToUser   string
	RURIUser string
	User     string // any of From, To, Request-URI and P-Asserted-Identity

	// Text is a substring of the raw message. It is found by reading every
	// packet of the window, so it needs a window of at most MaxTextWindow.
	Text string

	// After resumes a listing: only packets strictly after this position in
	// (CapturedAt, ID) order.
	After *Position

	Limit int
}

// MaxTextWindow is the widest window a Filter with Text may cover.
const MaxTextWindow = 24 * time.Hour

// Position is a place in the (capture time, arrival) order of packets: what a
// page cursor encodes.
type Position struct {
	CapturedAt time.Time
	ID         int64
}
