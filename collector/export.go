package collector

import (
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// Build turns a decoded HEP packet and its SIP parse into a Packet exactly as
// the listeners do, for other makers of packets (capture files: see
// collector/capture; seeding a database and benchmarks: internal/seed), so
// what they store is exactly what ingest stores. Its doc is build's: the Packet owns its memory, its
// capture time is the HEP time, or recv when the packet carries none (HEPv1,
// or an hp filled in by hand from a captured IP packet with TsSec 0).
func Build(hp *hep.Packet, m *sip.Message, parseErr error, recv time.Time, id int64) hepvault.Packet {
	return build(hp, m, parseErr, recv, id)
}

// HEPDropReason names, as the collector's drop metrics do ("bad_chunk",
// "short_packet", ...), why hep.Decode refused a packet.
func HEPDropReason(err error) string { return reasonOf(err).String() }
