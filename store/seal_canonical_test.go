package store

import (
	"bytes"
	"testing"

	"github.com/hepvault/hepvault"
)

// checkCanonicalOfColumns reads a block both ways sealing and exports do:
// building each packet and encoding it (next, AppendCanonical), and
// encoding it from its columns (nextCanonical: in one pass over an image's
// tuple, or split then appendCanonical). They must accept
// and refuse the same packets, and give the same bytes, id and time.
func checkCanonicalOfColumns(tb testing.TB, reset func(*blockDecoder) error) {
	tb.Helper()
	var byPacket, byColumns blockDecoder
	if reset(&byPacket) != nil || reset(&byColumns) != nil {
		return
	}
	for i := 0; byPacket.more(); i++ {
		if i > 1<<20 {
			tb.Fatalf("the reader does not end")
		}
		if !byColumns.more() {
			tb.Fatalf("packet %d: the columns' reader ended first", i)
		}
		var p hepvault.Packet
		errP := byPacket.next(&p)
		canon, id, at, errC := byColumns.nextCanonical(nil)
		if (errP == nil) != (errC == nil) {
			tb.Fatalf("packet %d: building it gave %v, its columns %v", i, errP, errC)
		}
		if errP != nil {
			return
		}
		if want := AppendCanonical(nil, &p); !bytes.Equal(canon, want) {
			tb.Fatalf("packet %d (id %d): the encoding of its columns differs from the packet's:\n%x\n%x", i, p.ID, canon, want)
		}
		if id != p.ID || at != p.CapturedAt.UnixMicro() {
			tb.Fatalf("packet %d: columns say id %d at %d, the packet %d at %d", i, id, at, p.ID, p.CapturedAt.UnixMicro())
		}
	}
	if byColumns.more() {
		tb.Fatalf("the packets' reader ended first")
	}
}

func TestCanonicalOfColumns(t *testing.T) {
	n := 0
	for _, b := range encodeBlocks(decoderPackets(t)) {
		checkCanonicalOfColumns(t, func(d *blockDecoder) error { return d.reset(b.format, b.packets) })
		n++
	}
	formats, images := goldenImages(t)
	for i := range images {
		checkCanonicalOfColumns(t, func(d *blockDecoder) error { return d.resetImage(formats[i], images[i], le32(images[i][8:])) })
	}
	if n < 3 || len(images) == 0 {
		t.Fatalf("checked %d blocks and %d images", n, len(images))
	}
}
