package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// DiffKind names what verify found different.
type DiffKind string

// What Verify reports.
const (
	DiffPacketChanged   DiffKind = "packet changed"
	DiffPacketDeleted   DiffKind = "packet deleted"
	DiffPacketAdded     DiffKind = "packet added"
	DiffBlockDeleted    DiffKind = "packets deleted"
	DiffUnsealed        DiffKind = "packets in no seal"
	DiffDayMissing      DiffKind = "day missing"
	DiffSealAltered     DiffKind = "seal differs from its packets"
	DiffSealMissing     DiffKind = "seal missing"
	DiffStatement       DiffKind = "seal differs from the statement"
	DiffSignature       DiffKind = "bad signature"
	DiffUnreadableBlock DiffKind = "unreadable block"
)

// Difference is one thing verify found not as sealed.
type Difference struct {
	Day      time.Time
	Addendum int // -1 when no seal is concerned
	Kind     DiffKind
	Detail   string
}

func (d Difference) String() string {
	s := d.Day.Format(time.DateOnly)
	if d.Addendum >= 0 {
		s += fmt.Sprintf(" (seal %d)", d.Addendum)
	}
	return s + ": " + string(d.Kind) + ": " + d.Detail
}

// VerifyOptions says what Verify checks.
type VerifyOptions struct {
	// From and To bound the days (UTC) checked: those that overlap
	// [From, To); zero: unbounded.
	From, To time.Time
	// Statements, when given, are the seals as exported: each must match
	// the database's seal and the packets.
	Statements []Seal
	// PublicKey, when given, must have signed every seal.
	PublicKey ed25519.PublicKey
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Days, SealedDays int
	Packets          int64
	Differences      []Difference
	// Unsealed are days with packets and no seal yet (nor statement):
	// nothing to check them against.
	Unsealed []time.Time
	// Dropped are sealed days whose packets retention or the disk guard
	// dropped, as the database records: nothing left to check.
	Dropped []time.Time
}

// OK reports whether everything matched.
func (r *VerifyReport) OK() bool { return len(r.Differences) == 0 }

// Verify recomputes the sealed days in the window from their packets, read
// as sealing reads them, and reports every difference: a packet changed,
// deleted or added, packets no seal covers, a day's partition gone, a seal
// row that its packets or the statements do not give.
func (db *DB) Verify(ctx context.Context, opt VerifyOptions) (*VerifyReport, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	in := func(d time.Time) bool {
		return (opt.From.IsZero() || d.Add(day).After(opt.From)) && (opt.To.IsZero() || d.Before(opt.To))
	}
	seals, err := db.Seals(ctx, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	tables, err := db.dayTables(ctx)
	if err != nil {
		return nil, err
	}
	days := map[time.Time]bool{}
	parts := map[time.Time]bool{}
	for _, t := range tables {
		if t.attached && !t.pending {
			parts[t.day] = true
			if in(t.day) {
				days[t.day] = true
			}
		}
	}
	byDay := map[time.Time][]Seal{}
	for _, s := range seals {
		byDay[s.Day] = append(byDay[s.Day], s)
		if in(s.Day) {
			days[s.Day] = true
		}
	}
	stated := map[time.Time][]Seal{}
	for _, s := range opt.Statements {
		stated[s.Day] = append(stated[s.Day], s)
		if in(s.Day) {
			days[s.Day] = true
		}
	}
	order := make([]time.Time, 0, len(days))
	for d := range days {
		order = append(order, d)
	}
	slices.SortFunc(order, time.Time.Compare)
	rep := &VerifyReport{}
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, interpretError("verify", err)
	}
	defer c.Release()
	for _, d := range order {
		rep.Days++
		if err := db.verifyDay(ctx, c.Conn(), d, parts[d], stated[d], opt.PublicKey, rep); err != nil {
			return rep, interpretError("verify "+d.Format(time.DateOnly), err)
		}
	}
	return rep, nil
}

// verifyDay checks one day: its seals against the statements, its blocks
// against seal_blocks and the seals.
func (db *DB) verifyDay(ctx context.Context, conn *pgx.Conn, d time.Time, part bool, stated []Seal,
	pub ed25519.PublicKey, rep *VerifyReport) error {
	diff := func(n int, k DiffKind, format string, args ...any) {
		rep.Differences = append(rep.Differences, Difference{Day: d, Addendum: n, Kind: k, Detail: fmt.Sprintf(format, args...)})
	}
	// The day's seals, which blocks they cover and the blocks, all in one
	// snapshot: a seal made meanwhile is either wholly seen or not at all.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	seals, err := readSeals(ctx, tx, d, d.Add(day))
	if err != nil {
		return err
	}
	bySeal := map[int]*Seal{}
	for i := range seals {
		bySeal[seals[i].Addendum] = &seals[i]
		if err := seals[i].CheckSignature(pub); err != nil {
			diff(seals[i].Addendum, DiffSignature, "the seal in the database: %v", err)
		}
	}
	for i := range stated {
		st := &stated[i]
		if err := st.CheckSignature(pub); err != nil {
			diff(st.Addendum, DiffSignature, "the statement: %v", err)
		}
		s, ok := bySeal[st.Addendum]
		switch {
		case !ok:
			diff(st.Addendum, DiffSealMissing, "the statement has it (%d packets, root %x); the database has no such seal", st.Count, st.Root)
		case s.Count != st.Count || s.Root != st.Root || !s.SealedAt.Equal(st.SealedAt) || !bytes.Equal(s.Signature, st.Signature):
			diff(st.Addendum, DiffStatement, "the database says %d packets, root %x, sealed at %s; the statement %d packets, root %x, sealed at %s",
				s.Count, s.Root, formatSealTime(s.SealedAt), st.Count, st.Root, formatSealTime(st.SealedAt))
		}
	}
	if !part && len(seals) > 0 && !slices.ContainsFunc(seals, func(s Seal) bool { return s.DroppedAt.IsZero() }) {
		rep.Dropped = append(rep.Dropped, d)
		return nil
	}
	if !part {
		n := int64(0)
		for _, s := range seals {
			n += s.Count
		}
		for _, s := range stated {
			n = max(n, s.Count)
		}
		diff(-1, DiffDayMissing, "sealed with %d packets; the day's partition %s is gone", n, partitionName(d))
		return nil
	}
	sealed := len(seals) > 0 || len(stated) > 0
	if sealed {
		rep.SealedDays++
	}

	// The blocks the seals cover, by key.
	covered := map[blockKey]*sealBlock{}
	rows, err := tx.Query(ctx, `SELECT first_at, first_id, addendum, count, digest FROM seal_blocks WHERE day = $1`, d)
	if err != nil {
		return err
	}
	var (
		sb     sealBlock
		at     time.Time
		digest []byte
	)
	if _, err := pgx.ForEachRow(rows, []any{&at, &sb.key.id, &sb.addendum, &sb.count, &digest}, func() error {
		c := sb
		c.key.at = at.UTC()
		copy(c.digest[:], digest)
		covered[c.key] = &c
		return nil
	}); err != nil {
		return err
	}
	plan, err := listDay(ctx, tx.Conn(), d, false)
	if err != nil {
		return err
	}

	type changed struct {
		key    blockKey
		leaves []Hash
		ids    []int64
	}
	// What each slice finds, joined in slice order below. A seal's tree
	// takes its leaf numbers from the counts the seal covered, so a block
	// that lost or gained packets moves no other block's leaves.
	type sliceState struct {
		trees    map[int]*splitTree
		mismatch []changed
		unsealed []Difference
		bad      []Difference // blocks that could not be read
		seen     []blockKey
		packets  int64
		free     int // packets of an unsealed day
	}
	cut := splitPlan(plan, db.readers()*slicesPerReader)
	states := make([]sliceState, len(cut))
	next := map[int]uint64{} // by seal: the leaf number the next block starts at
	for i, c := range cut {
		st := &states[i]
		st.trees = map[int]*splitTree{}
		for _, b := range plan[c.first : c.last+1] {
			if cb, ok := covered[b.key]; ok {
				if st.trees[cb.addendum] == nil {
					st.trees[cb.addendum] = &splitTree{start: next[cb.addendum]}
				}
				next[cb.addendum] += uint64(cb.count)
			}
		}
	}
	var snap string
	if len(plan) > 0 {
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
			return err
		}
	}
	err = db.readSlices(ctx, snap, d, false, plan, cut, db.readers(), func(i, _ int, b *dayBlock) error {
		st := &states[i]
		st.packets += int64(len(b.ids))
		cb, ok := covered[b.key]
		if b.bad != nil {
			// Named, and the rest of the day still verified. Its seal's
			// tree lacks its leaves, and the difference explains that.
			addendum := -1
			if ok {
				addendum = cb.addendum
				st.seen = append(st.seen, b.key)
			}
			st.bad = append(st.bad, Difference{Day: d, Addendum: addendum, Kind: DiffUnreadableBlock, Detail: b.err().Error()})
			return nil
		}
		if !ok {
			if !sealed {
				st.free += len(b.ids)
				return nil
			}
			st.unsealed = append(st.unsealed, Difference{Day: d, Addendum: -1, Kind: DiffUnsealed,
				Detail: fmt.Sprintf("block (%s, %d): %d packets no seal covers, the first id %d captured at %s",
					b.key.at.Format(time.RFC3339Nano), b.key.id, len(b.ids), b.ids[0], b.first.Format(time.RFC3339Nano))})
			return nil
		}
		st.seen = append(st.seen, b.key)
		t := st.trees[cb.addendum]
		for j := range b.leaves {
			t.add(b.leaves[j])
		}
		if len(b.leaves) != cb.count || blockDigest(b.leaves) != cb.digest {
			c := changed{key: b.key, leaves: slices.Clone(b.leaves), ids: slices.Clone(b.ids)}
			st.mismatch = append(st.mismatch, c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var (
		mismatch  []changed
		explained = map[int]bool{} // seals whose difference a block's explains
		seen      = map[blockKey]bool{}
		unsealed  int
		parts     = map[int][]*splitTree{}
	)
	for i := range states {
		st := &states[i]
		rep.Packets += st.packets
		rep.Differences = append(rep.Differences, st.unsealed...)
		for _, bad := range st.bad {
			explained[bad.Addendum] = true
			rep.Differences = append(rep.Differences, bad)
		}
		mismatch = append(mismatch, st.mismatch...)
		for _, k := range st.seen {
			seen[k] = true
		}
		unsealed += st.free
		for _, n := range slices.Sorted(maps.Keys(st.trees)) {
			parts[n] = append(parts[n], st.trees[n])
		}
	}
	// Each seal's tree: the slices' parts, and for a block that lost
	// packets an empty part to keep the next one's leaf numbers.
	trees := map[int]*struct {
		root Hash
		n    uint64
	}{}
	for n, ps := range parts {
		root, size, err := joinTreesLoose(ps)
		if err != nil {
			return err
		}
		trees[n] = &struct {
			root Hash
			n    uint64
		}{root, size}
	}
	if unsealed > 0 {
		rep.Unsealed = append(rep.Unsealed, d)
	}
	var gone []*sealBlock
	for k, cb := range covered {
		if !seen[k] {
			gone = append(gone, cb)
		}
	}
	slices.SortFunc(gone, func(a, b *sealBlock) int { return compareKeys(a.key, b.key) })
	for _, cb := range gone {
		explained[cb.addendum] = true
		diff(cb.addendum, DiffBlockDeleted, "block (%s, %d) and its %d packets are gone",
			cb.key.at.Format(time.RFC3339Nano), cb.key.id, cb.count)
	}
	for _, m := range mismatch {
		cb := covered[m.key]
		explained[cb.addendum] = true
		var stored []byte
		if err := tx.QueryRow(ctx, `SELECT leaves FROM seal_blocks WHERE first_at = $1 AND first_id = $2`, m.key.at, m.key.id).Scan(&stored); err != nil {
			return err
		}
		locate(m.key, m.leaves, m.ids, stored, func(k DiffKind, detail string) { diff(cb.addendum, k, "%s", detail) })
	}

	// Each seal against the tree of the blocks it covers.
	ns := map[int]bool{}
	for n := range trees {
		ns[n] = true
	}
	for n := range bySeal {
		ns[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(ns)) {
		t, s := trees[n], bySeal[n]
		if t == nil {
			t = &struct {
				root Hash
				n    uint64
			}{emptyRoot, 0}
		}
		root := t.root
		switch {
		case s == nil:
			diff(n, DiffSealMissing, "%d packets are marked as sealed by seal %d, which the database does not have", t.n, n)
		case s.Count != int64(t.n) || s.Root != root:
			if !explained[n] {
				diff(n, DiffSealAltered, "the seal says %d packets, root %x; its packets give %d, root %x",
					s.Count, s.Root, t.n, root)
			}
		}
	}
	return nil
}

// locate names the packets of a block that differ from what its seal
// covered, given the block's leaves and ids now and the leaves' prefixes
// stored: the first difference, and whether a packet changed, went or
// came.
func locate(key blockKey, leaves []Hash, ids []int64, stored []byte, report func(DiffKind, string)) {
	block := fmt.Sprintf("block (%s, %d)", key.at.Format(time.RFC3339Nano), key.id)
	n := len(stored) / leafPrefixLen
	prefix := func(i int) []byte { return stored[i*leafPrefixLen : (i+1)*leafPrefixLen] }
	first := 0
	for first < min(n, len(leaves)) && bytes.Equal(prefix(first), leaves[first][:leafPrefixLen]) {
		first++
	}
	switch {
	case len(leaves) == n:
		for i := range leaves {
			if !bytes.Equal(prefix(i), leaves[i][:leafPrefixLen]) {
				report(DiffPacketChanged, fmt.Sprintf("%s, packet %d of %d: id %d", block, i+1, n, ids[i]))
			}
		}
		if first == n {
			// Same prefixes, another digest: seal_blocks was written over.
			report(DiffPacketChanged, fmt.Sprintf("%s: its packets' hashes differ from the seal's index of them", block))
		}
	case len(leaves) < n:
		after := "at its start"
		if first > 0 {
			after = fmt.Sprintf("after id %d", ids[first-1])
		}
		report(DiffPacketDeleted, fmt.Sprintf("%s had %d packets and has %d: packet %d (leaf %s...) is gone, %s",
			block, n, len(leaves), first+1, hex.EncodeToString(prefix(first)), after))
	default:
		report(DiffPacketAdded, fmt.Sprintf("%s had %d packets and has %d: packet %d, id %d, was not sealed",
			block, n, len(leaves), first+1, ids[first]))
	}
}

func compareKeys(a, b blockKey) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	switch {
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}
