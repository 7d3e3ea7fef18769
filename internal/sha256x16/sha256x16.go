// Package sha256x16 computes the SHA-256 of many short messages at once.
// Sealing and verifying a day hashes each packet's ~0.8 KB canonical
// encoding: one message at a time, even with the CPU's SHA extensions,
// that was the largest part of the work. With AVX-512 the compression runs
// on 16 messages in the 16 lanes of a register, 2.5 times the throughput
// (BenchmarkSum); without it each message goes to crypto/sha256.
package sha256x16

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// Batch holds messages to hash, each padded as SHA-256 pads it, one after
// another in Buf. A message is written by Begin, appending to Buf, End.
type Batch struct {
	Buf    []byte
	starts []int // where each message begins in Buf
	lens   []int // each message's length before padding
	order  []int32
	counts []int
	lanes  lanes16
}

// lanes16 is what blocks16 reads and writes; the assembly knows its layout.
type lanes16 struct {
	state [8][16]uint32 // word w of lane l's state: state[w][l]
	at    [16]uint32    // where each lane's next block is, from base
	end   [16]uint32    // where each lane's blocks end
	offs  [16]uint32    // the block each lane reads now (blocks16's own)
	zero  uint32        // a block of zeros, which a lane that ended reads
}

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	b.Buf, b.starts, b.lens = b.Buf[:0], b.starts[:0], b.lens[:0]
}

// Begin starts a message at the end of Buf.
func (b *Batch) Begin() { b.starts = append(b.starts, len(b.Buf)) }

// End ends the message Begin started: what was appended to Buf since.
func (b *Batch) End() {
	n := len(b.Buf) - b.starts[len(b.starts)-1]
	b.lens = append(b.lens, n)
	pad := 64 - (n+9)%64
	if pad == 64 {
		pad = 0
	}
	b.Buf = append(b.Buf, 0x80)
	b.Buf = append(b.Buf, make([]byte, pad)...)
	b.Buf = binary.BigEndian.AppendUint64(b.Buf, uint64(n)*8)
}

// ivLanes is SHA-256's initial state in each of the 16 lanes.
var ivLanes = func() (s [8][16]uint32) {
	iv := [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
	for w := range s {
		for l := range s[w] {
			s[w][l] = iv[w]
		}
	}
	return s
}()

// blocksOf is how many 64-byte blocks a message of n bytes is once padded.
func blocksOf(n int) int { return (n + 9 + 63) / 64 }

const lanes = 16

// minLanes: a group with fewer messages costs less one by one with the
// SHA extensions (a 16-lane block costs about what 5 single ones do).
const minLanes = 6

// Sum appends the SHA-256 of each message of b, in order, to dst.
func (b *Batch) Sum(dst [][32]byte) [][32]byte {
	n := len(b.starts)
	at := len(dst)
	dst = slices.Grow(dst, n)[:at+n]
	out := dst[at:]
	if !useAVX512 || len(b.Buf) >= 1<<31 {
		for i := range n {
			out[i] = sha256.Sum256(b.Buf[b.starts[i] : b.starts[i]+b.lens[i]])
		}
		return dst
	}
	// Messages of as many blocks share a group, so that few lanes sit idle
	// while the longest of a group is hashed: a counting sort, longest first.
	maxNB := 0
	for _, n := range b.lens {
		maxNB = max(maxNB, blocksOf(n))
	}
	b.counts = slices.Grow(b.counts[:0], maxNB+2)[:maxNB+2]
	clear(b.counts)
	for _, n := range b.lens {
		b.counts[maxNB-blocksOf(n)+1]++
	}
	for k := 1; k < len(b.counts); k++ {
		b.counts[k] += b.counts[k-1]
	}
	b.order = slices.Grow(b.order[:0], n)[:n]
	for i, n := range b.lens {
		k := maxNB - blocksOf(n)
		b.order[b.counts[k]] = int32(i)
		b.counts[k]++
	}
	// A lane whose message has ended reads a block of zeros past the last
	// message, which is then cut off again.
	zero := len(b.Buf)
	b.Buf = append(b.Buf, make([]byte, 64)...)
	defer func() { b.Buf = b.Buf[:zero] }()
	for g := 0; g < n; g += lanes {
		group := b.order[g:min(g+lanes, n)]
		if len(group) < minLanes {
			for _, i := range group {
				out[i] = sha256.Sum256(b.Buf[b.starts[i] : b.starts[i]+b.lens[i]])
			}
			continue
		}
		nb := blocksOf(b.lens[group[0]]) // the longest comes first
		ls := &b.lanes
		ls.state, ls.zero = ivLanes, uint32(zero)
		for l := range lanes {
			ls.at[l], ls.end[l] = uint32(zero), uint32(zero)
			if l < len(group) {
				i := group[l]
				ls.at[l], ls.end[l] = uint32(b.starts[i]), uint32(b.starts[i]+64*blocksOf(b.lens[i]))
			}
		}
		blocks16(ls, &b.Buf[0], nb)
		for l, i := range group {
			for w := range 8 {
				binary.BigEndian.PutUint32(out[i][4*w:], ls.state[w][l])
			}
		}
	}
	return dst
}
