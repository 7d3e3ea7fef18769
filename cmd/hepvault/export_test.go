package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
)

// FuzzManifestLine: no panic on any line; a line that reads has a leaf
// that is its packet's hash, and its packet encodes back to its canonical
// bytes. Seeded with manifest lines of the Kamailio capture's packets.
func FuzzManifestLine(f *testing.F) {
	var (
		dec hep.Decoder
		hp  hep.Packet
		m   sip.Message
	)
	for i, r := range fixture.Load(f, fixture.HEP3)[:5] {
		if err := dec.Decode(r.Datagram, &hp); err != nil {
			f.Fatal(err)
		}
		p := collector.Build(&hp, &m, sip.Parse(hp.Payload, &m), hp.Time(), int64(i+1))
		canon := store.AppendCanonical(nil, &p)
		leaf := store.LeafHash(canon)
		line, err := json.Marshal(manifestLine{Packet: i + 1, ID: p.ID, CapturedAt: p.CapturedAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
			CallID: p.CallID, Day: p.CapturedAt.UTC().Format(time.DateOnly), Index: uint64(i), Leaf: hex.EncodeToString(leaf[:]),
			Canonical: base64.StdEncoding.EncodeToString(canon), Proof: []string{hex.EncodeToString(leaf[:])}})
		if err != nil {
			f.Fatal(err)
		}
		if _, _, _, err := parseManifestLine(line); err != nil {
			f.Fatalf("a seed line does not read: %v", err)
		}
		f.Add(line)
	}
	f.Add([]byte(`{"packet":1,"canonical":"AQ=="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ml, p, _, err := parseManifestLine(b)
		if err != nil {
			return
		}
		canon, _ := base64.StdEncoding.DecodeString(ml.Canonical)
		leaf := store.LeafHash(canon)
		if ml.Leaf != hex.EncodeToString(leaf[:]) || string(store.AppendCanonical(nil, &p)) != string(canon) {
			t.Fatalf("line %s read, but its leaf or packet is not its canonical bytes'", b)
		}
	})
}
