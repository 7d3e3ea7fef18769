package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/seed"
)

// imageGolden holds the images PostgreSQL 15 (x86-64) gave of the blocks of
// the golden packets of format 2 (format2.json): records of a big-endian
// uint32 length, a uint16 format and the image. Written with -update by
// TestBlockImage_SameAsBinaryOutput; read without a database by
// TestBlockImageGolden and the fuzzer.
var imageGolden = filepath.Join(goldenDir, "image2.bin")

// decodeImage decodes a block's image, its element OID taken from the
// image itself (it differs from one database to the next).
func decodeImage(format int16, image []byte) ([]hepvault.Packet, error) {
	var oid uint32
	if len(image) >= 12 {
		oid = le32(image[8:])
	}
	var d blockDecoder
	if err := d.resetImage(format, image, oid); err != nil {
		return nil, err
	}
	var out []hepvault.Packet
	for d.more() {
		if len(out) > len(image)/4 {
			return out, fmt.Errorf("image decoder gave %d packets from %d bytes: it does not end", len(out), len(image))
		}
		var p hepvault.Packet
		if err := d.next(&p); err != nil {
			return out, err
		}
		own(&p)
		out = append(out, p)
	}
	return out, nil
}

// Every packet read through its block's image is the packet read through
// PostgreSQL's binary output, field for field: real SIP, every corner the
// fuzzer's seeds reach (NUL and invalid UTF-8 in text, IPv6, payloads past
// 127 bytes and empty ones, times far from now), so a seal made one way
// verifies the other.
func TestBlockImage_SameAsBinaryOutput(t *testing.T) {
	ctx := context.Background()
	db := migratedDB(t)
	oid, err := db.blockImageOID(ctx)
	if err != nil || oid == 0 {
		t.Fatalf("packets_image missing for a superuser (oid %d, err %v)", oid, err)
	}
	golden := goldenPackets(t)
	pkts := slices.Clone(golden)
	pkts = append(pkts, seed.New(seed.Config{Seed: 5}).Packets(500)...)
	pkts = append(pkts, fullPacket(), hepvault.Packet{CapturedAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	for _, s := range append(slices.Clone(fuzzSeeds), fixtureSeeds(t)...) {
		for _, p := range fuzzPackets(s) {
			if y := p.CapturedAt.UTC().Year(); y >= 1971 && y <= 2200 { // a partition a day: keep the days few
				pkts = append(pkts, p)
			}
		}
	}
	w := NewWriter(db, DefaultWriterConfig())
	for i := 0; i < len(pkts); i += 1000 {
		if _, err := w.writeEncodedOnce(ctx, newEncoded(pkts[i:min(i+1000, len(pkts))])); err != nil {
			t.Fatal(err)
		}
	}
	var p params
	blocks, packets := 0, 0
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	err = each(ctx, conn.Conn().PgConn(), `SELECT format, packets, packets_image(packets) FROM packet_blocks ORDER BY first_at, first_id`, &p,
		func(v [][]byte) error {
			format := int16(binary.BigEndian.Uint16(v[0]))
			want, err := decodeAll(format, v[1])
			if err != nil {
				return err
			}
			got, err := decodeImage(format, v[2])
			if err != nil {
				return fmt.Errorf("block %d: %w", blocks, err)
			}
			if len(got) != len(want) {
				return fmt.Errorf("block %d: %d packets through the image, %d through the binary output", blocks, len(got), len(want))
			}
			for i := range got {
				if d := diffPacket(got[i], want[i]); d != "" {
					return fmt.Errorf("block %d, packet %d (id %d): %s", blocks, i, want[i].ID, d)
				}
			}
			blocks++
			packets += len(got)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if packets != len(pkts) {
		t.Fatalf("unexpected packets compared; got %d; want %d", packets, len(pkts))
	}
	if *update {
		writeImageGolden(t, ctx, golden)
	}
}

// writeImageGolden writes imageGolden: the golden packets written alone
// into a fresh database, their blocks' images.
func writeImageGolden(t *testing.T, ctx context.Context, golden []hepvault.Packet) {
	db := migratedDB(t)
	if _, err := NewWriter(db, DefaultWriterConfig()).writeEncodedOnce(ctx, newEncoded(golden)); err != nil {
		t.Fatal(err)
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var (
		out []byte
		p   params
	)
	err = each(ctx, conn.Conn().PgConn(), `SELECT format, packets_image(packets) FROM packet_blocks ORDER BY first_at, first_id`, &p,
		func(v [][]byte) error {
			out = binary.BigEndian.AppendUint32(out, uint32(len(v[1])))
			out = append(out, v[0]...)
			out = append(out, v[1]...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(imageGolden, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// imageRecords splits imageGolden's bytes into formats and images.
// goldenImages reads the committed golden images.
func goldenImages(tb testing.TB) (formats []int16, images [][]byte) {
	tb.Helper()
	data, err := os.ReadFile(imageGolden)
	if err != nil {
		tb.Fatal(err)
	}
	if formats, images, err = imageRecords(data); err != nil {
		tb.Fatal(err)
	}
	return formats, images
}

func imageRecords(data []byte) (formats []int16, images [][]byte, err error) {
	for len(data) > 0 {
		if len(data) < 6 {
			return nil, nil, errors.New("a truncated record")
		}
		n := int(binary.BigEndian.Uint32(data))
		if n > len(data)-6 {
			return nil, nil, errors.New("a record longer than the file")
		}
		formats = append(formats, int16(binary.BigEndian.Uint16(data[4:])))
		images = append(images, data[6:6+n])
		data = data[6+n:]
	}
	return formats, images, nil
}

// The images PostgreSQL gave of the golden blocks read back as the golden
// packets, without a database: PostgreSQL's in-memory layout is what this
// reader follows, and a reader that drifts from it fails here.
func TestBlockImageGolden(t *testing.T) {
	formats, images := goldenImages(t)
	var got []hepvault.Packet
	for i := range images {
		pkts, err := decodeImage(formats[i], images[i])
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		got = append(got, pkts...)
	}
	js, err := os.ReadFile(filepath.Join(goldenDir, "format2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []hepvault.Packet
	dec := json.NewDecoder(bytes.NewReader(js))
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(want, func(a, b hepvault.Packet) int { return comparePackets(&a, &b) })
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("unexpected packets; got %d; want %d", len(got), len(want))
	}
	for i := range got {
		if d := diffPacket(got[i], want[i]); d != "" {
			t.Fatalf("packet %d (id %d): %s", i, want[i].ID, d)
		}
	}
}

// FuzzBlockImage feeds any bytes to the image reader: it must not panic,
// must end, must fail only with errBadBlock, and what it accepts must hash
// (what sealing and verify do with it).
func FuzzBlockImage(f *testing.F) {
	if data, err := os.ReadFile(imageGolden); err == nil {
		if _, images, err := imageRecords(data); err == nil {
			for _, img := range images {
				f.Add(img)
			}
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, image []byte) {
		if len(image) >= 12 {
			checkCanonicalOfColumns(t, func(d *blockDecoder) error { return d.resetImage(currentFormat, image, le32(image[8:])) })
		}
		got, err := decodeImage(currentFormat, image)
		if err != nil {
			if !errors.Is(err, errBadBlock) {
				t.Fatalf("decode: unexpected error %v; want errBadBlock", err)
			}
			return
		}
		var leaves leafHasher
		for i := range got {
			leaves.add(&got[i])
		}
		if h := leaves.sum(nil); len(h) != len(got) {
			t.Fatalf("%d leaves of %d packets", len(h), len(got))
		}
	})
}

// BenchmarkImageDigest: what sealing, verify and exports do in Go for each
// packet read through its block's image. The golden images: real SIP.
func BenchmarkImageDigest(b *testing.B) {
	formats, images := goldenImages(b)
	oid := le32(images[0][8:])
	// decode: the packets built; packets: built, then hashed (exports);
	// columns: hashed from their columns (sealing, verify).
	for _, mode := range []string{"decode", "packets", "columns"} {
		b.Run(mode, func(b *testing.B) {
			var (
				d      blockDecoder
				leaves leafHasher
				hs     []Hash
				p      hepvault.Packet
				n      int
				sum    byte
			)
			b.ReportAllocs()
			for n < b.N {
				for i := range images {
					if err := d.resetImage(formats[i], images[i], oid); err != nil {
						b.Fatal(err)
					}
					for d.more() {
						var err error
						switch mode {
						case "columns":
							_, _, err = leaves.addNext(&d)
						default:
							if err = d.next(&p); err == nil && mode == "packets" {
								leaves.add(&p)
							}
						}
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if hs = leaves.sum(hs[:0]); len(hs) > 0 {
						sum += hs[0][0]
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/packet")
			_ = sum
		})
	}
}

// FuzzDecompress feeds any bytes to the decompression of a compressed
// value inside a packet (pglz and LZ4): it must not panic, must end, must
// fail only with errBadBlock, and must give exactly the size the value
// claims.
func FuzzDecompress(f *testing.F) {
	value := func(size int, method uint32, data ...byte) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, uint32(size)|method<<30), data...)
	}
	f.Add(value(3, pglzMethod, 0x00, 'a', 'b', 'c'))
	f.Add(value(20, pglzMethod, 0x02, 'a', 0x0f, 0x01, 0x01)) // 'a', then 19 copies of it
	f.Add(value(3, lz4Method, 0x30, 'a', 'b', 'c'))
	f.Add(value(9, lz4Method, 0x11, 'a', 0x01, 0x00, 0x30, 'x', 'y', 'z'))
	f.Add(value(301, lz4Method, 0x1f, 'a', 0x01, 0x00, 0xff, 0x1a, 0x00)) // 'a', then 300 copies
	f.Add(value(5, 2, 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decompressValue(b)
		if err != nil {
			if !errors.Is(err, errBadBlock) {
				t.Fatalf("unexpected error %v; want errBadBlock", err)
			}
			return
		}
		if want := int(le32(b) & 0x3fffffff); len(got) != want {
			t.Fatalf("unexpected size; got %d; want %d", len(got), want)
		}
	})
}
