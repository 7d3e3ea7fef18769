package store

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
)

// statCounts counts a batch's packets per capture minute and dimension, in
// Go, as the writer encodes the batch: the counts of the blocks the
// database takes are written in the same transaction as the blocks
// (stats_delta, stats.go). Typed counters, no string built per packet: a
// key becomes text only when the counts are written. A statCounts is reused
// batch after batch.
type statCounts struct {
	minutes []*minuteCounts // in use: a batch spans seconds, so one or two
	spare   []*minuteCounts // cleared, for reuse
	last    *minuteCounts   // where the previous packet was counted
	pairs   []pairCount     // topPairs' work
	// The batch's recording-session requests (recording_write.go), written
	// with its statistics.
	recordings []recordingRow
}

// batchPairs is how many address pairs of a minute one batch writes by
// name; the rest of its pairs are written as other. Realistic traffic
// holds a pair for every two packets or so (~1,000 in a 2,000-packet
// batch), and every one written would cost PostgreSQL more than the
// batch's blocks' terms, and the fold more still; a minute keeps only
// TopPairs of them. The pairs that stay in other in some batches are the
// least frequent of each: a minute's top pairs are exact unless a batch
// holds more than batchPairs pairs, and totals always are.
const batchPairs = 50

type pairCount struct {
	src, dst netip.Addr
	n        int64
	other    bool
}

type minuteCounts struct {
	minute   int64 // Unix seconds
	packets  int64
	kinds    [3]int64
	classes  [7]int64   // index: class 1 to 6; 0 unused
	statuses [600]int64 // index: code - 100
	others   map[int]int64
	methods  map[string]int64
	captures map[uint32]int64
	pairs    map[addrPair]int64
}

type addrPair struct{ src, dst netip.Addr }

// reset empties c, keeping its memory.
func (c *statCounts) reset() {
	for _, m := range c.minutes {
		m.packets = 0
		clear(m.kinds[:])
		clear(m.classes[:])
		clear(m.statuses[:])
		clear(m.others)
		clear(m.methods)
		clear(m.captures)
		clear(m.pairs)
	}
	c.spare = append(c.spare, c.minutes...)
	c.minutes = c.minutes[:0]
	c.last = nil
	c.recordings = c.recordings[:0]
}

// minuteOf returns the counters of the minute starting at m (Unix seconds).
func (c *statCounts) minuteOf(m int64) *minuteCounts {
	if c.last != nil && c.last.minute == m {
		return c.last
	}
	for _, mc := range c.minutes {
		if mc.minute == m {
			c.last = mc
			return mc
		}
	}
	var mc *minuteCounts
	if n := len(c.spare); n > 0 {
		mc, c.spare = c.spare[n-1], c.spare[:n-1]
	} else {
		mc = &minuteCounts{others: map[int]int64{}, methods: map[string]int64{},
			captures: map[uint32]int64{}, pairs: map[addrPair]int64{}}
	}
	mc.minute = m
	c.minutes = append(c.minutes, mc)
	c.last = mc
	return mc
}

// add counts one packet.
func (c *statCounts) add(p *hepvault.Packet) {
	// Floor division: a capture time before 1970 still falls in its minute.
	s := p.CapturedAt.Unix()
	m := c.minuteOf(s - ((s%60)+60)%60)
	m.packets++
	k := p.Kind
	if k > hepvault.KindResponse {
		k = hepvault.KindInvalid // what Kind.String names it
	}
	m.kinds[k]++
	switch p.Kind {
	case hepvault.KindRequest:
		m.methods[p.Method]++
	case hepvault.KindResponse:
		if code := p.StatusCode; code >= 100 && code <= 699 {
			m.statuses[code-100]++
			m.classes[code/100]++
		} else {
			m.others[code]++
		}
	}
	m.captures[p.CaptureID]++
	m.pairs[addrPair{p.SrcIP, p.DstIP}]++
	c.addRecording(p)
}

// addPackets counts pkts.
func (c *statCounts) addPackets(pkts []hepvault.Packet) {
	for i := range pkts {
		c.add(&pkts[i])
	}
}

// addBlocks counts the packets of blocks by decoding them: the counts of
// blocks read back from the spool, or of some blocks of a batch only.
func (c *statCounts) addBlocks(blocks []block, take func(i int) bool) error {
	var (
		d blockDecoder
		p hepvault.Packet
	)
	for i := range blocks {
		if !take(i) {
			continue
		}
		if err := d.reset(blocks[i].format, blocks[i].packets); err != nil {
			return err
		}
		for d.more() {
			if err := d.next(&p); err != nil {
				return err
			}
			// Keys must outlive the block's bytes only until the counts are
			// written, within the same call of insertBlocks; cleaned here
			// as the encoder cleans what it stores.
			p.Method = cleanText(p.Method)
			c.add(&p)
		}
	}
	return nil
}

// statRow is one row of stats_delta in binary: the counts of one minute and
// dimension.
type statRow struct {
	minute [8]byte // timestamptz
	dim    hepvault.StatsDim
	keys   []byte // text[]
	counts []byte // int8[]
}

// rows appends c as rows of stats_delta to dst, their arrays in buf; both
// are returned grown.
func (c *statCounts) rows(dst []statRow, buf []byte) ([]statRow, []byte) {
	var a arrays
	a.buf = buf[:0]
	for _, m := range c.minutes {
		var at [8]byte
		binary.BigEndian.PutUint64(at[:], uint64(time.Unix(m.minute, 0).UnixMicro()-pgEpoch))
		row := func(dim hepvault.StatsDim, n int, each func(add func(key []byte, count int64))) {
			if n == 0 {
				return
			}
			start := a.start(n)
			each(a.add)
			keys, counts := a.finish(start)
			dst = append(dst, statRow{minute: at, dim: dim, keys: keys, counts: counts})
		}
		var num [24]byte
		nonZero := func(vs []int64) (n int) {
			for _, v := range vs {
				if v != 0 {
					n++
				}
			}
			return n
		}
		row(hepvault.StatsKind, nonZero(m.kinds[:]), func(add func([]byte, int64)) {
			for k, v := range m.kinds {
				if v != 0 {
					add([]byte(hepvault.Kind(k).String()), v)
				}
			}
		})
		row(hepvault.StatsStatusClass, nonZero(m.classes[:]), func(add func([]byte, int64)) {
			for cl, v := range m.classes {
				if v != 0 {
					add([]byte(hepvault.StatusClass(cl).String()), v)
				}
			}
		})
		row(hepvault.StatsStatus, nonZero(m.statuses[:])+len(m.others), func(add func([]byte, int64)) {
			for i, v := range m.statuses {
				if v != 0 {
					add(strconv.AppendInt(num[:0], int64(i+100), 10), v)
				}
			}
			for code, v := range m.others {
				add(strconv.AppendInt(num[:0], int64(code), 10), v)
			}
		})
		row(hepvault.StatsMethod, len(m.methods), func(add func([]byte, int64)) {
			for method, v := range m.methods {
				add([]byte(cleanText(method)), v)
			}
		})
		row(hepvault.StatsCaptureID, len(m.captures), func(add func([]byte, int64)) {
			for id, v := range m.captures {
				add(strconv.AppendUint(num[:0], uint64(id), 10), v)
			}
		})
		pairs := c.topPairs(m)
		var pair []byte
		row(hepvault.StatsPair, len(pairs), func(add func([]byte, int64)) {
			for _, pc := range pairs {
				if pc.other {
					add([]byte(hepvault.StatsOther), pc.n)
					continue
				}
				pair = appendPair(pair[:0], pc.src, pc.dst)
				add(pair, pc.n)
			}
		})
	}
	return dst, a.buf
}

// topPairs returns m's batchPairs most frequent pairs, then, when m has
// more, the rest summed as other.
func (c *statCounts) topPairs(m *minuteCounts) []pairCount {
	ps := c.pairs[:0]
	for ap, n := range m.pairs {
		ps = append(ps, pairCount{src: ap.src, dst: ap.dst, n: n})
	}
	c.pairs = ps
	if len(ps) <= batchPairs {
		return ps
	}
	slices.SortFunc(ps, func(a, b pairCount) int { return cmp.Compare(b.n, a.n) })
	other := pairCount{other: true}
	for _, p := range ps[batchPairs:] {
		other.n += p.n
	}
	return append(ps[:batchPairs], other)
}

// appendPair writes the key of an address pair: "10.0.0.1 > 10.0.0.2",
// "-" standing for a missing address.
func appendPair(b []byte, src, dst netip.Addr) []byte {
	b = appendAddr(b, src)
	b = append(b, " > "...)
	return appendAddr(b, dst)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, '-')
	}
	return a.AppendTo(b)
}

// arrays builds rows' text[] and int8[] arrays one after another in one
// buffer: the keys' array grows in buf while the counts wait in cnt, then
// follow it. A row's arrays stay valid when buf grows: appending never
// writes over bytes already written, and a moved buffer leaves them in the
// old one.
type arrays struct {
	buf []byte
	cnt []int64
}

// start begins the keys' array of n keys and returns where it starts.
func (a *arrays) start(n int) int {
	at := len(a.buf)
	a.buf = arrayHeader(a.buf, oidText, n)
	a.cnt = a.cnt[:0]
	return at
}

func (a *arrays) add(key []byte, count int64) {
	a.buf = binary.BigEndian.AppendUint32(a.buf, uint32(len(key)))
	a.buf = append(a.buf, key...)
	a.cnt = append(a.cnt, count)
}

// finish appends the counts' array and returns both arrays of the row
// begun at start.
func (a *arrays) finish(start int) ([]byte, []byte) {
	k := a.buf[start:len(a.buf):len(a.buf)]
	at := len(a.buf)
	a.buf = arrayHeader(a.buf, oidInt8, len(a.cnt))
	for _, v := range a.cnt {
		a.buf = binary.BigEndian.AppendUint32(a.buf, 8)
		a.buf = binary.BigEndian.AppendUint64(a.buf, uint64(v))
	}
	return k, a.buf[at:len(a.buf):len(a.buf)]
}
