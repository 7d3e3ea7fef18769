package store

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
)

// Every field of hepvault.Packet is in the seals' hash or excluded on
// purpose: a field added to Packet fails here until one of the two lists
// names it. And each field listed changes the digest: the list tells the
// truth.
func TestPacketDigest_EveryField(t *testing.T) {
	typ := reflect.TypeFor[hepvault.Packet]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		_, excluded := digestExcluded[name]
		if !slices.Contains(digestFields, name) && !excluded {
			t.Errorf("hepvault.Packet.%s is neither hashed by PacketDigest (digestFields) nor excluded on purpose (digestExcluded)", name)
		}
	}
	base := hepvault.Packet{}
	d0 := PacketDigest(&base)
	for _, name := range digestFields {
		p := base
		f := reflect.ValueOf(&p).Elem().FieldByName(name)
		if !f.IsValid() {
			t.Errorf("digestFields names %s, which hepvault.Packet does not have", name)
			continue
		}
		switch v := f.Addr().Interface().(type) {
		case *string:
			*v = "x"
		case *[]byte:
			*v = []byte("x")
		case *time.Time:
			*v = time.Unix(1, 0)
		case *netip.Addr:
			*v = netip.MustParseAddr("10.0.0.1")
		default:
			switch f.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				f.SetInt(1)
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				f.SetUint(1)
			default:
				t.Errorf("field %s of kind %s: teach this test to change it", name, f.Kind())
				continue
			}
		}
		if PacketDigest(&p) == d0 {
			t.Errorf("changing %s does not change PacketDigest", name)
		}
		back, err := DecodeCanonical(AppendCanonical(nil, &p))
		if err != nil || PacketDigest(&back) != PacketDigest(&p) {
			t.Errorf("field %s does not survive the canonical encoding; got %+v, %v", name, back, err)
		}
	}
}

func leavesOf(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = LeafHash([]byte{byte(i), byte(i >> 8)})
	}
	return out
}

// The roots of RFC 6962's reference tree (Certificate Transparency's test
// vectors: leaves "", 00, 10, 2021, 3031, 40414243, 5051..57, 6061..6f).
func TestMerkleRoot_Vectors(t *testing.T) {
	inputs := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	var leaves []Hash
	for _, in := range inputs {
		b, _ := hex.DecodeString(in)
		leaves = append(leaves, LeafHash(b))
	}
	f := func(n int, want string) {
		t.Helper()
		var tb treeBuilder
		for _, l := range leaves[:n] {
			tb.add(l)
		}
		for _, got := range []Hash{merkleRoot(leaves[:n]), tb.root()} {
			if hex.EncodeToString(got[:]) != want {
				t.Fatalf("unexpected root of %d leaves; got %x; want %s", n, got, want)
			}
		}
	}
	f(0, hex.EncodeToString(func() []byte { h := sha256.Sum256(nil); return h[:] }()))
	f(1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
	f(8, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
}

// A tree hashed a level at a time is RFC 6962's, at every size.
func TestMerkleRoot_ByLevels(t *testing.T) {
	leaves := leavesOf(1100)
	for n := 2; n <= len(leaves); n += 1 + n/40 {
		if got, want := merkleRootByLevels(leaves[:n]), merkleRootSplit(leaves[:n]); got != want {
			t.Fatalf("n=%d: by levels %x, by RFC 6962's split %x", n, got, want)
		}
	}
}

// The streaming root, the recursive one and the prover's agree, and every
// proof checks, across the prover's run boundaries; a proof does not check
// for another leaf, index or size.
func TestProver(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 1023, 1024, 1025, 2048, 2049, 3001} {
		leaves := leavesOf(n)
		var tb treeBuilder
		var pr prover
		for i, l := range leaves {
			tb.add(l)
			pr.add(l, i%97 == 0 || i == n-1)
		}
		pr.finish()
		want := merkleRoot(leaves)
		if tb.root() != want || pr.root() != want {
			t.Fatalf("n=%d: roots disagree: builder %x, prover %x, recursive %x", n, tb.root(), pr.root(), want)
		}
		for i := range leaves {
			if i%97 != 0 && i != n-1 {
				continue
			}
			path, ok := pr.proof(i)
			if !ok {
				t.Fatalf("n=%d: no proof of leaf %d", n, i)
			}
			if !slices.Equal(path, auditPath(i, leaves)) {
				t.Fatalf("n=%d: the prover's path of leaf %d differs from the recursive one", n, i)
			}
			if err := VerifyInclusion(leaves[i], uint64(i), uint64(n), path, want); err != nil {
				t.Fatalf("n=%d: proof of leaf %d: %v", n, i, err)
			}
			other := LeafHash([]byte("other"))
			if VerifyInclusion(other, uint64(i), uint64(n), path, want) == nil ||
				(n > 1 && VerifyInclusion(leaves[i], uint64((i+1)%n), uint64(n), path, want) == nil) {
				t.Fatalf("n=%d: a proof of leaf %d checks for something else", n, i)
			}
		}
	}
	// Only the runs of chosen leaves are kept.
	var pr prover
	for i, l := range leavesOf(3001) {
		pr.add(l, i == 3000)
	}
	pr.finish()
	if _, ok := pr.proof(5); ok || len(pr.kept) != 1 {
		t.Fatalf("unexpected runs kept; got %d, and a proof of a leaf not chosen: %v; want 1 run, no proof", len(pr.kept), ok)
	}
}

func TestStatement_Message(t *testing.T) {
	s := Seal{Day: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), Addendum: 2, Count: 123,
		SealedAt: time.Date(2026, 12, 4, 1, 0, 0, 123456000, time.UTC)}
	s.Root[0] = 0xab
	want := "hepvault seal v1 day=2026-12-03 addendum=2 count=123 root=ab" + strings.Repeat("00", 31) +
		" sealed_at=2026-12-04T01:00:00.123456Z"
	if got := string(s.Message()); got != want {
		t.Fatalf("unexpected message; got %q; want %q", got, want)
	}
}

// FuzzDecodeCanonical: no panic on any input; what decodes encodes back to
// the same bytes.
func FuzzDecodeCanonical(f *testing.F) {
	full := hepvault.Packet{ID: -5, CapturedAt: time.UnixMicro(1795609907746644), ReceivedAt: time.UnixMicro(1),
		CaptureID: 4242, HEPVersion: 3, ProtoType: 1, SrcIP: netip.MustParseAddr("127.0.0.1"), SrcPort: 5060,
		DstIP: netip.MustParseAddr("2001:db8::1"), DstPort: 5090, Transport: 17, Kind: 2, StatusCode: 486,
		Reason: "Busy Here", CallID: "c", CSeq: 1, CSeqMethod: "INVITE", Raw: []byte("SIP/2.0 486 Busy Here\r\n\r\n")}
	f.Add(AppendCanonical(nil, &full))
	f.Add(AppendCanonical(nil, &hepvault.Packet{}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeCanonical(b)
		if err != nil {
			return
		}
		if again := AppendCanonical(nil, &p); string(again) != string(b) {
			t.Fatalf("decoded and encoded again differs;\ngot  %x\nwant %x", again, b)
		}
	})
}

// FuzzReadStatements: no panic; a statement read writes back as one that
// reads the same.
func FuzzReadStatements(f *testing.F) {
	f.Add(`{"day":"2026-12-03","addendum":0,"count":1,"root":"` + strings.Repeat("ab", 32) + `","sealed_at":"2026-12-04T01:00:00.000000Z","key_id":null,"public_key":null,"signature":null}`)
	f.Add(`{"day":"2026-12-03","addendum":1,"count":1,"root":"00","sealed_at":"x"}`)
	f.Fuzz(func(t *testing.T, s string) {
		seals, err := ReadStatements(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, x := range seals {
			b, err := x.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var y Seal
			if err := y.UnmarshalJSON(b); err != nil || string(y.Message()) != string(x.Message()) {
				t.Fatalf("statement %s reads back as %+v, %v", b, y, err)
			}
		}
	})
}

// A tree cut into parts anywhere, each part's leaves added to a splitTree,
// joins into the tree's root: the slices of a day read at once give the
// root one reader would.
func TestJoinTrees(t *testing.T) {
	leaves := leavesOf(5000)
	f := func(cuts ...int) {
		t.Helper()
		var parts []*splitTree
		at := 0
		for _, c := range append(cuts, len(leaves)) {
			p := &splitTree{start: uint64(at)}
			for _, l := range leaves[at:c] {
				p.add(l)
			}
			parts = append(parts, p)
			at = c
		}
		got, n, err := joinTrees(parts)
		if err != nil || n != uint64(len(leaves)) || got != merkleRoot(leaves) {
			t.Fatalf("cuts %v: unexpected join; got %x of %d leaves, %v; want %x of %d", cuts, got, n, err, merkleRoot(leaves), len(leaves))
		}
	}
	f()
	f(1)
	f(1023, 1024, 1025)
	f(10, 20, 30, 4999)
	f(2048, 2049, 4096)
	f(700, 1500, 3100, 3200, 3300)
	if _, _, err := joinTrees([]*splitTree{{start: 0, n: 3}, {start: 5}}); err == nil {
		t.Fatal("parts with a gap joined")
	}
}

func TestSplitPlan(t *testing.T) {
	plan := make([]planBlock, 100)
	for i := range plan {
		plan[i] = planBlock{count: 1 + i%7}
	}
	for k := 1; k <= 5; k++ {
		cut := splitPlan(plan, k)
		if len(cut) != k || cut[0].first != 0 || cut[len(cut)-1].last != len(plan)-1 {
			t.Fatalf("k=%d: unexpected slices %v", k, cut)
		}
		for i := 1; i < len(cut); i++ {
			if cut[i].first != cut[i-1].last+1 || cut[i].first > cut[i].last {
				t.Fatalf("k=%d: slices not contiguous: %v", k, cut)
			}
		}
	}
	if got := splitPlan(plan[:1], 4); len(got) != 1 {
		t.Fatalf("unexpected slices of one block: %v", got)
	}
}
