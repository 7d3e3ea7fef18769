package store

import (
	"crypto/sha256"
	"errors"
	"math/bits"
	"sync"

	"github.com/hepvault/hepvault/internal/sha256x16"
)

// A seal's root is the Merkle Tree Hash of RFC 6962 §2.1 (RFC 9162 §2.1.1)
// over the leaves of the packets it covers, in storage order: the tree of
// n > 1 leaves is a node over the tree of the first k leaves, k the largest
// power of two below n, and the tree of the rest. The empty tree's hash is
// SHA-256 of nothing. Inclusion proofs are RFC 9162 §2.1.3's audit paths, so
// any implementation of that RFC checks them.

// emptyRoot is the hash of a tree with no leaves.
var emptyRoot = Hash(sha256.Sum256(nil))

// treeBuilder computes a root as leaves arrive, keeping one perfect subtree
// per bit of the count: memory is logarithmic in the leaves.
type treeBuilder struct {
	stack []Hash
	sizes []uint64
	n     uint64
}

func (t *treeBuilder) add(h Hash) {
	t.stack = append(t.stack, h)
	t.sizes = append(t.sizes, 1)
	t.n++
	for k := len(t.stack); k >= 2 && t.sizes[k-1] == t.sizes[k-2]; k = len(t.stack) {
		t.stack[k-2] = nodeHash(&t.stack[k-2], &t.stack[k-1])
		t.sizes[k-2] *= 2
		t.stack, t.sizes = t.stack[:k-1], t.sizes[:k-1]
	}
}

// root folds the perfect subtrees from the right: the RFC 6962 tree of n
// leaves is exactly that.
func (t *treeBuilder) root() Hash {
	if len(t.stack) == 0 {
		return emptyRoot
	}
	h := t.stack[len(t.stack)-1]
	for i := len(t.stack) - 2; i >= 0; i-- {
		h = nodeHash(&t.stack[i], &h)
	}
	return h
}

// splitPoint is the largest power of two below n (n > 1).
func splitPoint(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// merkleRoot is MTH(leaves).
func merkleRoot(leaves []Hash) Hash {
	if len(leaves) >= 32 {
		return merkleRootByLevels(leaves)
	}
	return merkleRootSplit(leaves)
}

// merkleRootSplit is MTH(leaves) as RFC 6962 defines it.
func merkleRootSplit(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return emptyRoot
	case 1:
		return leaves[0]
	}
	k := splitPoint(len(leaves))
	l, r := merkleRootSplit(leaves[:k]), merkleRootSplit(leaves[k:])
	return nodeHash(&l, &r)
}

// nodeLevels is the memory merkleRootByLevels reuses.
var nodeLevels = sync.Pool{New: func() any { return new(nodeLevel) }}

type nodeLevel struct {
	b     sha256x16.Batch
	level []Hash
}

// merkleRootByLevels is MTH(leaves) (len(leaves) > 1) a level at a time,
// each level's nodes hashed together (sha256x16): pairing neighbours from
// the left and carrying an odd last node up as it is makes RFC 6962's
// tree, whose left subtree is always the perfect one.
func merkleRootByLevels(leaves []Hash) Hash {
	nl := nodeLevels.Get().(*nodeLevel)
	defer nodeLevels.Put(nl)
	level := append(nl.level[:0], leaves...)
	for len(level) > 1 {
		nl.b.Reset()
		for i := 0; i+1 < len(level); i += 2 {
			nl.b.Begin()
			nl.b.Buf = append(append(append(nl.b.Buf, nodePrefix), level[i][:]...), level[i+1][:]...)
			nl.b.End()
		}
		carried, odd := level[len(level)-1], len(level)%2 == 1
		level = nl.b.Sum(level[:0]) // the level's hashes are in the batch already
		if odd {
			level = append(level, carried)
		}
	}
	nl.level = level
	return level[0]
}

// auditPath is PATH(m, leaves) of RFC 6962 §2.1.1, from the leaf up.
func auditPath(m int, leaves []Hash) []Hash {
	if len(leaves) <= 1 {
		return nil
	}
	k := splitPoint(len(leaves))
	if m < k {
		return append(auditPath(m, leaves[:k]), merkleRoot(leaves[k:]))
	}
	return append(auditPath(m-k, leaves[k:]), merkleRoot(leaves[:k]))
}

// proofChunk is the width of the perfect subtrees a prover keeps: a tree's
// leaves fall in aligned runs of proofChunk, and the tree over the runs'
// roots has the RFC 6962 shape too (its split points are multiples of the
// run). So an audit path is a path inside a run and then one over the runs,
// and a day of 10 M packets costs a prover 10,000 roots and the leaves of
// the runs that hold wanted packets, not 320 MB of leaves.
const proofChunk = 1024

// prover builds a tree's root and the audit paths of chosen leaves.
type prover struct {
	run    []Hash // the leaves of the open run
	wanted bool   // the open run holds a chosen leaf
	roots  []Hash // of every closed run
	kept   map[int][]Hash
	n      int
}

// add appends a leaf; want chooses it for a proof.
func (p *prover) add(h Hash, want bool) {
	p.run = append(p.run, h)
	p.wanted = p.wanted || want
	p.n++
	if len(p.run) == proofChunk {
		p.closeRun()
	}
}

func (p *prover) closeRun() {
	if len(p.run) == 0 {
		return
	}
	p.roots = append(p.roots, merkleRoot(p.run))
	if p.wanted {
		if p.kept == nil {
			p.kept = map[int][]Hash{}
		}
		p.kept[len(p.roots)-1] = p.run
		p.run = nil
	}
	p.run, p.wanted = p.run[:0], false
}

// finish closes the last run; call it once every leaf is added.
func (p *prover) finish() { p.closeRun() }

// root is the tree's root; after finish.
func (p *prover) root() Hash { return merkleRoot(p.roots) }

// proof is the audit path of leaf m, which add chose; after finish.
func (p *prover) proof(m int) ([]Hash, bool) {
	run, ok := p.kept[m/proofChunk]
	if !ok || m%proofChunk >= len(run) {
		return nil, false
	}
	return append(auditPath(m%proofChunk, run), auditPath(m/proofChunk, p.roots)...), true
}

// ErrProof: an inclusion proof that does not lead to the root.
var ErrProof = errors.New("inclusion proof does not match the root")

// VerifyInclusion checks that leaf is leaf number index (from 0) of a tree
// of size leaves whose root is root, by the audit path proof (RFC 9162
// §2.1.3.2).
func VerifyInclusion(leaf Hash, index, size uint64, proof []Hash, root Hash) error {
	if index >= size {
		return ErrProof
	}
	fn, sn, r := index, size-1, leaf
	for i := range proof {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(&proof[i], &r)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = nodeHash(&r, &proof[i])
		}
		fn, sn = fn>>1, sn>>1
	}
	if sn != 0 || r != root {
		return ErrProof
	}
	return nil
}
