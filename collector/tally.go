package collector

import (
	"sort"
	"sync/atomic"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
)

// Transport is the transport of a HEP listener.
type Transport uint8

// The listeners' transports.
const (
	TransportUDP Transport = iota
	TransportTCP
	TransportTLS // HEP over TLS: TCP framing inside TLS
	numTransports
)

func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportTLS:
		return "tls"
	}
	return "udp"
}

// Transports lists every transport, for metrics.
func Transports() []Transport { return []Transport{TransportUDP, TransportTCP, TransportTLS} }

// MaxCaptureIDs is how many HEP capture ids (agents) get a counter of their
// own; packets of ids first seen after that many are counted together, so
// an agent sending random ids cannot make the metrics grow without bound.
const MaxCaptureIDs = 64

// The per-packet counts that are not on Metrics' fields: by transport and
// HEP version, by SIP kind, method and status class, and by capture id.
// Each is an index into one flat array. A worker counts into plain integers
// of its own and adds them to Metrics' atomics before it blocks on its
// socket again (flush): per packet that costs a few increments of memory
// no other core writes, not an atomic operation on a shared cache line each.
const (
	tDecoded  = 0                                  // [transport][HEP version 0-3]
	tKind     = tDecoded + int(numTransports)*4    // [hepvault.Kind]
	tMethod   = tKind + 3                          // [sip.Method]; requests only
	tClass    = tMethod + int(sip.MethodOther) + 1 // [status class 0-6]; responses only
	tAgent    = tClass + 7                         // [capture id's slot in agentTable]
	agentSlot = 2 * MaxCaptureIDs                  // slots of agentTable: at most half full
	tAgentOth = tAgent + agentSlot                 // capture ids past MaxCaptureIDs
	numTally  = tAgentOth + 1
)

// tally is a worker's counts not yet added to Metrics.
type tally struct {
	n     [numTally]uint64
	dirty []uint16 // indexes of n that are not 0
	// The last capture id seen and its index: an agent's packets come in
	// runs (one per TCP connection), so most packets skip the table.
	lastAgent    uint32
	lastAgentIdx int
}

func (t *tally) add(i int) {
	if t.n[i] == 0 {
		t.dirty = append(t.dirty, uint16(i))
	}
	t.n[i]++
}

// flush adds the worker's counts to m and zeroes them.
func (w *worker) flush() {
	t := &w.tally
	for _, i := range t.dirty {
		w.c.metrics.tally[i].Add(t.n[i])
		t.n[i] = 0
	}
	t.dirty = t.dirty[:0]
}

// countDecoded counts a packet that decoded as HEP.
func (w *worker) countDecoded(version uint8) {
	w.tally.add(tDecoded + int(w.transport)*4 + int(version&3))
}

// countAgent counts an accepted packet under its capture id.
func (w *worker) countAgent(id uint32) {
	t := &w.tally
	if t.lastAgentIdx == 0 || t.lastAgent != id {
		t.lastAgent, t.lastAgentIdx = id, tAgent+w.c.metrics.agents.slot(id)
	}
	t.add(t.lastAgentIdx)
}

// countSIP counts a parsed payload by kind, and a request by method or a
// response by status class.
func (w *worker) countSIP(p *hepvault.Packet) {
	w.tally.add(tKind + int(p.Kind))
	switch p.Kind {
	case hepvault.KindRequest:
		m := sip.MethodOf(w.msg.Method)
		if m == sip.MethodNone {
			m = sip.MethodOther
		}
		w.tally.add(tMethod + int(m))
	case hepvault.KindResponse:
		w.tally.add(tClass + int(hepvault.ClassOf(p.StatusCode)))
	}
}

// agentTable gives each of the first MaxCaptureIDs capture ids seen a slot,
// without a lock: an open-addressing table, twice as large as it may fill,
// whose slots are only ever set once, from empty to an id, by compare and
// swap.
type agentTable struct {
	slots [agentSlot]atomic.Uint64 // capture id + 1; 0 is empty
	used  atomic.Int32
}

// slot returns id's slot, or agentSlot (the "other" counter) when the table
// has no room left for it.
func (t *agentTable) slot(id uint32) int {
	key := uint64(id) + 1
	h := int((id * 0x9e3779b1) >> 25) // 7 bits: agentSlot is 128
	for probe := 0; probe < agentSlot; probe++ {
		i := (h + probe) & (agentSlot - 1)
		s := &t.slots[i]
		switch k := s.Load(); k {
		case key:
			return i
		case 0:
			// id is not in the table: slots before this one are all taken.
			if t.used.Add(1) > MaxCaptureIDs {
				t.used.Add(-1)
				return agentSlot
			}
			if s.CompareAndSwap(0, key) {
				return i
			}
			t.used.Add(-1)
			if s.Load() == key { // another reader put id there first
				return i
			}
			// another id took this slot: go on probing
		}
	}
	return agentSlot
}

// AgentCount is how many packets came from one capture id.
type AgentCount struct {
	CaptureID uint32
	Packets   uint64
}

// CaptureIDs returns the packets accepted from each of the first
// MaxCaptureIDs capture ids seen, by id, and those of every later one
// together (other).
func (m *Metrics) CaptureIDs() (ids []AgentCount, other uint64) {
	for i := range m.agents.slots {
		if k := m.agents.slots[i].Load(); k != 0 {
			ids = append(ids, AgentCount{uint32(k - 1), m.tally[tAgent+i].Load()})
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].CaptureID < ids[j].CaptureID })
	return ids, m.tally[tAgentOth].Load()
}

// Decoded returns how many packets received over t decoded as HEP version
// v (1, 2 or 3).
func (m *Metrics) Decoded(t Transport, v int) uint64 {
	if t >= numTransports || v < 0 || v > 3 {
		return 0
	}
	return m.tally[tDecoded+int(t)*4+v].Load()
}

// SIPKind returns how many payloads were parsed as kind k: the SIP
// requests, responses, and payloads that are not valid SIP (stored as
// invalid) among the packets handed to the queue or dropped as queue_full.
func (m *Metrics) SIPKind(k hepvault.Kind) uint64 {
	if k > hepvault.KindResponse {
		return 0
	}
	return m.tally[tKind+int(k)].Load()
}

// SIPMethods lists the methods SIPMethod counts: the typed ones and
// sip.MethodOther.
func SIPMethods() []sip.Method {
	out := make([]sip.Method, 0, sip.MethodOther)
	for meth := sip.MethodInvite; meth <= sip.MethodOther; meth++ {
		out = append(out, meth)
	}
	return out
}

// SIPMethod returns how many valid requests had method meth.
func (m *Metrics) SIPMethod(meth sip.Method) uint64 {
	if meth > sip.MethodOther {
		return 0
	}
	return m.tally[tMethod+int(meth)].Load()
}

// SIPClass returns how many valid responses had a status of class c (1-6).
func (m *Metrics) SIPClass(c hepvault.StatusClass) uint64 {
	if c > 6 {
		return 0
	}
	return m.tally[tClass+int(c)].Load()
}
