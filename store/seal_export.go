package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// Proof is a packet's inclusion in a seal: the packet's canonical encoding
// (AppendCanonical), its leaf's number in the seal's tree and the audit
// path to the seal's root.
type Proof struct {
	Seal      Seal
	Index     uint64
	Canonical []byte
	Path      []Hash
}

// Check verifies the proof: its leaf, by its path, gives its seal's root.
func (p *Proof) Check() error {
	return VerifyInclusion(LeafHash(p.Canonical), p.Index, uint64(p.Seal.Count), p.Path, p.Seal.Root)
}

// ErrNotSealed: a packet asked for a proof whose day has no seal over it yet.
var ErrNotSealed = errors.New("not sealed yet")

// Prove returns the proof of each of pkts in its day's seal, in pkts'
// order, reading each day involved whole, as sealing does. A packet no
// seal covers yet, or no longer stored, is an error naming it.
func (db *DB) Prove(ctx context.Context, pkts []hepvault.Packet) ([]Proof, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	want := map[time.Time]map[packetKey][]int{}
	for i := range pkts {
		d := dayOf(pkts[i].CapturedAt)
		if want[d] == nil {
			want[d] = map[packetKey][]int{}
		}
		k := keyOf(&pkts[i])
		want[d][k] = append(want[d][k], i)
	}
	out := make([]Proof, len(pkts))
	found := make([]bool, len(pkts))
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, interpretError("prove", err)
	}
	defer c.Release()
	for d, keys := range want {
		if err := db.proveDay(ctx, c.Conn(), d, keys, out, found); err != nil {
			return nil, err
		}
	}
	for i := range found {
		if !found[i] {
			return nil, fmt.Errorf("store: packet id %d captured at %s is not stored", pkts[i].ID, pkts[i].CapturedAt.Format(time.RFC3339Nano))
		}
	}
	return out, nil
}

func (db *DB) proveDay(ctx context.Context, conn *pgx.Conn, d time.Time, keys map[packetKey][]int, out []Proof, found []bool) error {
	seals, err := db.Seals(ctx, d, d.Add(day))
	if err != nil {
		return err
	}
	bySeal := map[int]Seal{}
	for _, s := range seals {
		bySeal[s.Addendum] = s
	}
	covered := map[blockKey]int{}
	rows, err := conn.Query(ctx, `SELECT first_at, first_id, addendum FROM seal_blocks WHERE day = $1`, d)
	if err != nil {
		return interpretError("prove", err)
	}
	var (
		k blockKey
		n int
	)
	if _, err := pgx.ForEachRow(rows, []any{&k.at, &k.id, &n}, func() error {
		k.at = k.at.UTC()
		covered[k] = n
		return nil
	}); err != nil {
		return interpretError("prove", err)
	}
	provers := map[int]*prover{}
	type spot struct {
		addendum int
		index    int
	}
	spots := map[int]spot{} // by index into out
	image, err := db.blockImageOID(ctx)
	if err != nil {
		return interpretError("prove", err)
	}
	err = readDay(ctx, conn.PgConn(), d, false, image, true, func(b *dayBlock) error {
		if err := b.err(); err != nil {
			return err
		}
		n, ok := covered[b.key]
		pr := provers[n]
		if ok && pr == nil {
			pr = &prover{}
			provers[n] = pr
		}
		for i := range b.pkts {
			is := keys[keyOf(&b.pkts[i])]
			if len(is) > 0 && !ok {
				return fmt.Errorf("store: packet id %d captured at %s: %w", b.pkts[i].ID, b.pkts[i].CapturedAt.Format(time.RFC3339Nano), ErrNotSealed)
			}
			if !ok {
				continue
			}
			for _, j := range is {
				spots[j] = spot{n, pr.n}
				out[j].Canonical = AppendCanonical(nil, &b.pkts[i])
			}
			pr.add(b.leaves[i], len(is) > 0)
		}
		return nil
	})
	if err != nil {
		return interpretError("prove", err)
	}
	for _, pr := range provers {
		pr.finish()
	}
	for j, sp := range spots {
		s, ok := bySeal[sp.addendum]
		pr := provers[sp.addendum]
		if !ok || s.Count != int64(pr.n) || s.Root != pr.root() {
			return fmt.Errorf("store: seal %d of %s does not match its packets (run hepvault verify)", sp.addendum, d.Format(time.DateOnly))
		}
		path, _ := pr.proof(sp.index)
		out[j].Seal, out[j].Index, out[j].Path = s, uint64(sp.index), path
		found[j] = true
	}
	return nil
}
