package hep

import (
	"bytes"
	"testing"

	"github.com/hepvault/hepvault/internal/fixture"
)

// benchDecode decodes one fixture packet per op, cycling through them, and
// reports bytes as the average packet size.
func benchDecode(b *testing.B, grams [][]byte) {
	b.Helper()
	total := 0
	for _, g := range grams {
		total += len(g)
	}
	b.SetBytes(int64(total / len(grams)))
	b.ReportAllocs()
	var d Decoder
	var p Packet
	i := 0
	for b.Loop() {
		if err := d.Decode(grams[i], &p); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(grams) {
			i = 0
		}
	}
}

func fixtureGrams(b *testing.B, name string) [][]byte {
	b.Helper()
	var grams [][]byte
	for _, r := range fixture.Load(b, name) {
		grams = append(grams, r.Datagram)
	}
	return grams
}

func BenchmarkDecodeV3(b *testing.B) { benchDecode(b, fixtureGrams(b, fixture.HEP3)) }

func BenchmarkDecodeV2(b *testing.B) { benchDecode(b, fixtureGrams(b, fixture.HEP2)) }

// BenchmarkDecodeV3Gzip measures the compressed path (chunk 0x0010), which
// is allowed to cost more.
func BenchmarkDecodeV3Gzip(b *testing.B) {
	var grams [][]byte
	var d Decoder
	var p Packet
	for _, g := range fixtureGrams(b, fixture.HEP3)[:50] {
		if err := d.Decode(g, &p); err != nil {
			b.Fatal(err)
		}
		grams = append(grams, hep3(ck(chunkSrcPort, 0x13, 0xc4), ck(chunkCompressed, gzipped(b, p.Payload)...)))
	}
	benchDecode(b, grams)
}

// BenchmarkFramer frames the fixture packets sent back to back, read in
// 1460-byte segments; bytes are the stream, ns/op per packet.
func BenchmarkFramer(b *testing.B) {
	var stream []byte
	grams := fixtureGrams(b, fixture.HEP3)
	for _, g := range grams {
		stream = append(stream, g...)
	}
	b.SetBytes(int64(len(stream) / len(grams)))
	b.ReportAllocs()
	var br bytes.Reader
	cr := &chunkReader{&br, 1460}
	br.Reset(stream)
	fr := NewFramer(cr, 0)
	for b.Loop() {
		if _, err := fr.Next(); err != nil {
			br.Reset(stream)
			fr.r, fr.err, fr.rerr, fr.start, fr.end = cr, nil, nil, 0, 0
		}
	}
}

func BenchmarkAppendV3(b *testing.B) {
	grams := fixtureGrams(b, fixture.HEP3)
	var d Decoder
	var p Packet
	if err := d.Decode(grams[0], &p); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(grams[0])))
	b.ReportAllocs()
	buf := make([]byte, 0, 2048)
	for b.Loop() {
		buf = AppendV3(buf[:0], &p)
	}
}
