package collector

import (
	"crypto/subtle"

	"github.com/hepvault/hepvault/collector/hep"
)

// authorized says whether hp may be stored under the configured auth key
// (HEPv3 chunk 0x000e, Kamailio siptrace's auth_key). Without a key every
// packet is. With one, the packet must carry exactly that key; HEPv1 and
// v2 have no key chunk and so never do. The comparison takes the same time
// whatever the bytes, so a sender cannot guess the key byte by byte.
func (c *Collector) authorized(hp *hep.Packet) bool {
	if len(c.cfg.AuthKey) == 0 {
		return true
	}
	return subtle.ConstantTimeCompare(hp.AuthKey, c.cfg.AuthKey) == 1
}
