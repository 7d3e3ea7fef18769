package collector

import (
	"errors"
	"fmt"
	"io"
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

// WritePrometheus writes the counters in the Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) {
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	fmt.Fprintf(w, "# HELP hepvault_received_total HEP packets received, by listener transport.\n# TYPE hepvault_received_total counter\n")
	fmt.Fprintf(w, "hepvault_received_total{transport=\"udp\"} %d\nhepvault_received_total{transport=\"tcp\"} %d\n", m.UDPDatagrams.Load(), m.TCPFrames.Load())
	counter("hepvault_queued_total", "Packets handed to the database writer.", m.Queued.Load())
	counter("hepvault_invalid_sip_total", "Queued packets whose payload is not valid SIP (stored as kind invalid).", m.InvalidSIP.Load())
	fmt.Fprintf(w, "# HELP hepvault_dropped_total Packets received but not queued, by reason.\n# TYPE hepvault_dropped_total counter\n")
	for r := Reason(0); r < numReasons; r++ {
		fmt.Fprintf(w, "hepvault_dropped_total{reason=%q} %d\n", r.String(), m.dropped[r].Load())
	}
	counter("hepvault_tcp_connections_total", "TCP connections accepted.", m.TCPConnections.Load())
	fmt.Fprintf(w, "# HELP hepvault_tcp_connections_open TCP connections open now.\n# TYPE hepvault_tcp_connections_open gauge\nhepvault_tcp_connections_open %d\n", m.TCPOpen.Load())
	counter("hepvault_tcp_bad_frames_total", "TCP connections closed because the stream was not HEPv3 or a frame length was out of range.", m.TCPBadFrames.Load())
	counter("hepvault_tcp_partial_frames_total", "TCP connections that ended in the middle of a packet.", m.TCPPartial.Load())
	counter("hepvault_read_errors_total", "Socket read errors.", m.ReadErrors.Load())
	counter("hepvault_hep_vendor_chunks_total", "HEP chunks of other vendors, skipped.", m.VendorChunks.Load())
	counter("hepvault_hep_unknown_chunks_total", "HEP chunks of unknown type, skipped.", m.UnknownChunks.Load())
	m.writeGuard(w)
}
