package collector

import (
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// Build turns a decoded HEP packet and its parsed SIP message into the Packet
// the collector would queue, for tools that make packets without a socket
// (seeding a database, benchmarks): what they store is then exactly what
// ingest stores.
func Build(hp *hep.Packet, m *sip.Message, parseErr error, recv time.Time, id int64) hepvault.Packet {
	return build(hp, m, parseErr, recv, id)
}
