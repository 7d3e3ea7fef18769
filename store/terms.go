package store

import (
	"bytes"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"unsafe"

	"github.com/hepvault/hepvault"
)

// A block's terms say what it holds for each filter: one 32-bit hash per
// (field, value) of its packets, once each. The GIN index over them
// (packet_blocks_terms) finds the blocks that may hold a match; the packets
// of those blocks are then checked one by one (matches), so a hash shared by
// two values costs a block read, never a wrong answer.
//
// Why a GIN over hashed terms (BENCHMARKS.md has the figures): it answers
// every filter, a Call-ID or a number as well as a status code, with one
// index that PostgreSQL maintains and prunes by partition; it costs a few
// bytes a packet because a block's packets share most of their values
// (addresses, methods, statuses); and a list filter (method=INVITE,BYE) is
// one lookup (&&). A row per term in a B-tree table costs more per packet
// than the whole block; per-block Bloom filters still read every block's
// filter to answer a rare value.

// Term fields: a byte mixed into the hash, so that a value of one field
// never matches another's. A user has one term whichever URI it is in, and
// an address one whichever end it is: a packet's users and addresses mostly
// repeat across its roles (To and Request-URI; a phone both sends and
// receives), so this halves a block's terms, and a from_user or src_ip
// filter reads the few blocks where the value plays another role too.
// A correlation has one term whether it came as HEP's correlation id or in a
// correlating header: a correlation_id filter asks for either.
const (
	termCallID        = 'c'
	termCorrelationID = 'x'
	termUser          = 'u'
	termIP            = 'a'
	termMethod        = 'm'
	termStatus        = 'S'
	termStatusClass   = 'C'
	termKind          = 'k'
	termCaptureID     = 'i'
)

// termHash is 64-bit FNV-1a over the field byte and the value, folded to
// 32 bits: fast (a block has ~1,700 values to hash) and stable across
// processes. 32 bits halve the terms' cost on disk, in the column and in
// the index; among the tens of millions of distinct values of a large
// store, another value shares a term with the one asked for with odds of
// about 1 in 200, and then costs one block read.
func termHash(field byte, value string) int32 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	h = (h ^ uint64(field)) * prime
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * prime
	}
	return int32(h ^ h>>32)
}

func addrTerm(field byte, a netip.Addr) int32 {
	if a.Is4() {
		v := a.As4()
		return termHash(field, unsafeString(v[:]))
	}
	v := a.As16()
	return termHash(field, unsafeString(v[:]))
}

func numTerm(field byte, n uint64) int32 {
	var b [20]byte
	return termHash(field, unsafeString(strconv.AppendUint(b[:0], n, 10)))
}

// userTerm indexes a user by hepvault.UserKey, so a number matches with or
// without its '+' and separators.
func userTerm(user string) int32 {
	var buf [64]byte
	return termHash(termUser, unsafeString(hepvault.AppendUserKey(buf[:0], cleanText(user))))
}

// appendTerms appends the terms of p.
func appendTerms(ts []int32, p *hepvault.Packet) []int32 {
	for _, s := range [...]struct {
		field byte
		v     string
	}{{termCallID, p.CallID}, {termCorrelationID, p.CorrelationID}, {termCorrelationID, p.CorrelationHeader}, {termMethod, p.Method}} {
		if s.v != "" {
			ts = append(ts, termHash(s.field, cleanText(s.v)))
		}
	}
	for _, u := range [...]string{p.FromUser, p.ToUser, p.RURIUser, p.PAIUser} {
		if u != "" {
			ts = append(ts, userTerm(u))
		}
	}
	for _, a := range [...]netip.Addr{p.SrcIP, p.DstIP} {
		if a.IsValid() {
			ts = append(ts, addrTerm(termIP, a))
		}
	}
	if p.StatusCode != 0 {
		ts = append(ts, numTerm(termStatus, uint64(p.StatusCode)), numTerm(termStatusClass, uint64(hepvault.ClassOf(p.StatusCode))))
	}
	return append(ts, numTerm(termKind, uint64(p.Kind)), numTerm(termCaptureID, uint64(p.CaptureID)))
}

// termGroups returns what f asks of a block's terms: every group must have
// one of its terms. Nil when no condition of f has a term.
func termGroups(f *hepvault.Filter) [][]int32 {
	var gs [][]int32
	add := func(g []int32) {
		if len(g) > 0 {
			slices.Sort(g)
			gs = append(gs, slices.Compact(g))
		}
	}
	one := func(field byte, v string) {
		if v != "" {
			add([]int32{termHash(field, cleanText(v))})
		}
	}
	one(termCallID, f.CallID)
	one(termCorrelationID, f.CorrelationID)
	var g []int32
	for _, m := range f.Methods {
		g = append(g, termHash(termMethod, cleanText(m)))
	}
	add(g)
	for _, u := range [...]string{f.FromUser, f.ToUser, f.RURIUser, f.User} {
		if u != "" {
			add([]int32{userTerm(u)})
		}
	}
	for _, as := range [...][]netip.Addr{f.SrcIPs, f.DstIPs, f.IPs} {
		g = nil
		for _, a := range as {
			g = append(g, addrTerm(termIP, a))
		}
		add(g)
	}
	add(numGroup(termStatus, f.Statuses))
	add(numGroup(termStatusClass, f.StatusClasses))
	add(numGroup(termKind, f.Kinds))
	add(numGroup(termCaptureID, f.CaptureIDs))
	return gs
}

// numGroup is the terms of a list of numbers of one field.
func numGroup[T interface{ ~int | ~uint8 | ~uint32 }](field byte, vs []T) []int32 {
	var g []int32
	for _, v := range vs {
		g = append(g, numTerm(field, uint64(v)))
	}
	return g
}

// rareTerms reports whether f names a value that few blocks hold (a
// Call-ID, a correlation id, a user): the index answers it at once, with no
// first look along the window.
func rareTerms(f *hepvault.Filter) bool {
	return f.CallID != "" || f.CorrelationID != "" || f.FromUser != "" || f.ToUser != "" || f.RURIUser != "" || f.User != ""
}

// matches applies f to one packet exactly. Addresses compare without an
// IPv6 zone, which the store does not keep.
func matches(f *hepvault.Filter, p *hepvault.Packet) bool {
	if !f.From.IsZero() && p.CapturedAt.Before(f.From) ||
		!f.To.IsZero() && !p.CapturedAt.Before(f.To) ||
		f.After != nil && comparePackets(p, &hepvault.Packet{CapturedAt: f.After.CapturedAt, ID: f.After.ID}) <= 0 {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, p.Kind) ||
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, p.StatusCode) ||
		len(f.StatusClasses) > 0 && !slices.Contains(f.StatusClasses, hepvault.ClassOf(p.StatusCode)) ||
		len(f.CaptureIDs) > 0 && !slices.Contains(f.CaptureIDs, p.CaptureID) ||
		len(f.SrcIPs) > 0 && !hasAddr(f.SrcIPs, p.SrcIP) ||
		len(f.DstIPs) > 0 && !hasAddr(f.DstIPs, p.DstIP) ||
		len(f.IPs) > 0 && !hasAddr(f.IPs, p.SrcIP) && !hasAddr(f.IPs, p.DstIP) {
		return false
	}
	if len(f.Methods) > 0 && !slices.ContainsFunc(f.Methods, func(m string) bool { return cleanText(p.Method) == cleanText(m) }) ||
		f.CallID != "" && cleanText(p.CallID) != cleanText(f.CallID) ||
		f.CorrelationID != "" && !sameCorrelation(f.CorrelationID, p) {
		return false
	}
	if !sameUser(f.FromUser, p.FromUser) || !sameUser(f.ToUser, p.ToUser) || !sameUser(f.RURIUser, p.RURIUser) {
		return false
	}
	if f.User != "" && !(sameUser(f.User, p.FromUser) && p.FromUser != "" || sameUser(f.User, p.ToUser) && p.ToUser != "" ||
		sameUser(f.User, p.RURIUser) && p.RURIUser != "" || sameUser(f.User, p.PAIUser) && p.PAIUser != "") {
		return false
	}
	return f.Text == "" || containsText(p.Raw, f.Text)
}

// sameCorrelation reports whether p carries the correlation x: as its HEP
// correlation id or its correlating header, which share a term.
func sameCorrelation(x string, p *hepvault.Packet) bool {
	x = cleanText(x)
	return cleanText(p.CorrelationID) == x || cleanText(p.CorrelationHeader) == x
}

func hasAddr(as []netip.Addr, a netip.Addr) bool {
	a = a.WithZone("")
	return slices.ContainsFunc(as, func(b netip.Addr) bool { return b.WithZone("") == a })
}

// sameUser reports whether a user filter (empty: none) accepts a packet's
// user.
func sameUser(want, got string) bool {
	return want == "" || hepvault.UserKey(cleanText(want)) == hepvault.UserKey(cleanText(got))
}

func containsText(raw []byte, text string) bool {
	return bytes.Contains(raw, unsafe.Slice(unsafe.StringData(text), len(text)))
}

// unsafeString views b as a string for as long as b is not changed.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// termSet gathers the distinct terms of a block: an open-addressing table,
// since a block's ~1,700 terms hold ~140 distinct ones, and sorting them all
// to drop the repeats cost a quarter of encoding the block.
type termSet struct {
	slots []int32 // 0 marks an empty slot; the term 0 is kept by zero
	shift uint
	zero  bool
	list  []int32 // the distinct terms, in the order first added
}

func (s *termSet) add(t int32) {
	if t == 0 {
		if !s.zero {
			s.zero = true
			s.list = append(s.list, 0)
		}
		return
	}
	if 2*(len(s.list)+1) > len(s.slots) {
		s.grow()
	}
	mask := uint32(len(s.slots) - 1)
	for i := uint32(t) * 0x9E3779B1 >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case t:
			return
		case 0:
			s.slots[i] = t
			s.list = append(s.list, t)
			return
		}
	}
}

func (s *termSet) grow() {
	n := max(2*len(s.slots), 512)
	s.slots = make([]int32, n)
	s.shift = uint(32 - bits.TrailingZeros(uint(n)))
	list := s.list
	s.list, s.zero = s.list[:0:0], false
	for _, t := range list {
		s.add(t)
	}
}

// sorted returns the distinct terms in order, in a slice of their own, and
// empties the set.
func (s *termSet) sorted() []int32 {
	ts := slices.Clone(s.list)
	slices.Sort(ts)
	clear(s.slots)
	s.list, s.zero = s.list[:0], false
	return ts
}
