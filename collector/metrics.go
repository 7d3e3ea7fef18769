package collector

import (
	"errors"
	"sync/atomic"

	"github.com/hepvault/hepvault/collector/hep"
)

// Reason says why a received packet was not queued for storage.
type Reason uint8

// Reasons a packet is dropped; each has a counter.
const (
	ReasonShortPacket Reason = iota
	ReasonNotHEP
	ReasonBadLength
	ReasonBadChunk
	ReasonNoPayload
	ReasonInflate
	ReasonNotSIP     // HEP payload type other than SIP (RTCP, logs, ...)
	ReasonQueueFull  // the writer is behind: the queue was full
	ReasonNotAllowed // UDP source not in the allow list
	ReasonAuth       // an auth key is required and the packet lacks it or carries another
	numReasons
)

var reasonNames = [numReasons]string{
	"short_packet", "not_hep", "bad_length", "bad_chunk", "no_payload", "inflate", "not_sip", "queue_full",
	"not_allowed", "auth",
}

func (r Reason) String() string { return reasonNames[r] }

// Reasons lists every reason, for metrics.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// reasonOf maps a hep.Decode error to its reason.
func reasonOf(err error) Reason {
	switch {
	case errors.Is(err, hep.ErrShortPacket):
		return ReasonShortPacket
	case errors.Is(err, hep.ErrBadLength):
		return ReasonBadLength
	case errors.Is(err, hep.ErrBadChunk):
		return ReasonBadChunk
	case errors.Is(err, hep.ErrNoPayload):
		return ReasonNoPayload
	case errors.Is(err, hep.ErrInflate):
		return ReasonInflate
	}
	return ReasonNotHEP
}

// Metrics counts what the collector saw. Safe for concurrent use.
type Metrics struct {
	UDPDatagrams   atomic.Uint64 // HEP packets read from UDP
	TCPFrames      atomic.Uint64 // HEP packets framed from TCP streams
	TCPConnections atomic.Uint64 // connections accepted
	TCPOpen        atomic.Int64  // connections open now
	TCPBadFrames   atomic.Uint64 // connections closed: stream not HEPv3, or frame length out of range
	TCPPartial     atomic.Uint64 // connections that ended mid-frame
	ReadErrors     atomic.Uint64 // socket read errors other than shutdown
	Queued         atomic.Uint64 // packets handed to the writer
	InvalidSIP     atomic.Uint64 // of those, payloads that are not valid SIP (stored as invalid)
	VendorChunks   atomic.Uint64 // HEP chunks of other vendors, skipped
	UnknownChunks  atomic.Uint64 // HEP chunks of unknown type, skipped
	dropped        [numReasons]atomic.Uint64
	guard          guardMetrics
	tls            tlsMetrics
	// tally holds the counts workers add in bulk (tally.go); agents names
	// the capture ids counted there.
	tally  [numTally]atomic.Uint64
	agents agentTable
}

// Dropped returns how many packets were dropped for reason r.
func (m *Metrics) Dropped(r Reason) uint64 { return m.dropped[r].Load() }

// DroppedTotal returns the sum over all reasons.
func (m *Metrics) DroppedTotal() uint64 {
	var n uint64
	for i := range m.dropped {
		n += m.dropped[i].Load()
	}
	return n
}

func (m *Metrics) drop(r Reason) { m.dropped[r].Add(1) }
