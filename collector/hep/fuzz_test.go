package hep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"unsafe"

	"github.com/hepvault/hepvault/internal/fixture"
)

// within reports whether s lies inside buf's memory (an empty s trivially does).
func within(s, buf []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(buf) == 0 {
		return false
	}
	b := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= b && p+uintptr(len(s)) <= b+uintptr(len(buf))
}

func addDecodeSeeds(f *testing.F) {
	for _, name := range []string{fixture.HEP3, fixture.HEP2} {
		for i, r := range fixture.Load(f, name) {
			if i%10 == 0 { // a sample is enough; they differ only in the SIP
				f.Add(r.Datagram)
			}
		}
	}
	failureCases(f, func(_ string, buf []byte, _ error) {
		if len(buf) < 1<<16 {
			f.Add(buf)
		}
	})
	f.Add(kamailioPacket(ckVendor(9, 1, 1), ck(0x99, 1), ckU16(chunkKeepAlive, 1), ckU16(chunkVLAN, 2),
		ck(chunkCorrelation, 'c'), ck(chunkNodeName, 'n')))
	f.Add(hep3(ck(chunkCompressed, gzipped(f, []byte(testSIP))...)))
	f.Add(hep3(ck(chunkCompressed, zlibbed(f, []byte(testSIP))...)))
	f.Add(v12(1, testSIP))
	f.Add(v12(2, testSIP))
}

// fuzzDecoder is reused across inputs, as the collector reuses one, so state
// leaking from one packet to the next shows up against a fresh Decoder.
var fuzzDecoder Decoder

func FuzzDecode(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, buf []byte) {
		orig := bytes.Clone(buf)
		var p Packet
		err := fuzzDecoder.Decode(buf, &p)
		if !bytes.Equal(buf, orig) {
			t.Fatalf("Decode modified its input")
		}

		var fresh Decoder
		var q Packet
		errFresh := fresh.Decode(buf, &q)
		if (err == nil) != (errFresh == nil) || (err != nil && err.Error() != errFresh.Error()) {
			t.Fatalf("reused and fresh Decoder disagree; got %v; fresh %v", err, errFresh)
		}
		if err != nil {
			if n := sentinelCount(err); n != 1 {
				t.Fatalf("error wraps %d sentinels; want 1: %v", n, err)
			}
			return
		}
		if !samePacket(&p, &q) || p.Version != q.Version || p.Compressed != q.Compressed ||
			p.VendorChunks != q.VendorChunks || p.UnknownChunks != q.UnknownChunks {
			t.Fatalf("reused and fresh Decoder disagree;\ngot   %+v\nfresh %+v", p, q)
		}

		if len(p.Payload) == 0 {
			t.Fatalf("success with an empty payload")
		}
		for _, s := range [][]byte{p.AuthKey, p.CorrelationID, p.NodeName} {
			if !within(s, buf) {
				t.Fatalf("a field does not alias the input")
			}
		}
		if p.Compressed {
			if !within(p.Payload, fuzzDecoder.buf[:cap(fuzzDecoder.buf)]) || len(p.Payload) > DefaultMaxInflate {
				t.Fatalf("compressed payload of %d bytes outside the inflate buffer", len(p.Payload))
			}
		} else if !within(p.Payload, buf) {
			t.Fatalf("payload does not alias the input")
		}

		switch p.Version {
		case 1, 2:
			hl := map[uint8]int{FamilyIPv4: 16, FamilyIPv6: 40}[p.Family]
			if p.Version == 2 {
				hl += v2TimeLen
			}
			if hl == 0 || len(p.Payload) != len(buf)-hl || !p.SrcIP.IsValid() || !p.DstIP.IsValid() {
				t.Fatalf("v%d: family %d, payload %d of %d bytes", p.Version, p.Family, len(p.Payload), len(buf))
			}
		case 3:
			total := int(binary.BigEndian.Uint16(buf[4:6]))
			if total > len(buf) || (!p.Compressed && len(p.Payload) > total) {
				t.Fatalf("v3: payload %d bytes, total length %d, input %d", len(p.Payload), total, len(buf))
			}
			if V3Len(&p) > MaxV3Len {
				return // an inflated payload may not fit a plain packet
			}
			enc := AppendV3(nil, &p)
			var r Packet
			if err := fresh.Decode(enc, &r); err != nil {
				t.Fatalf("re-encoded packet does not decode: %v", err)
			}
			if !samePacket(&r, &p) || r.Version != 3 || r.Compressed || r.VendorChunks != 0 || r.UnknownChunks != 0 {
				t.Fatalf("round trip differs;\ngot  %+v\nwant %+v", r, p)
			}
		default:
			t.Fatalf("unexpected version %d", p.Version)
		}
	})
}

func FuzzFramer(f *testing.F) {
	frames, stream := fixtureStream(f)
	f.Add(stream[:4096], uint16(0), uint8(7))
	f.Add(bytes.Join(frames[:3], nil), uint16(len(frames[1])), uint8(1))
	f.Add(append(bytes.Clone(frames[0]), "HEP3\x00"...), uint16(0), uint8(0))
	f.Add([]byte("HEP3\x00\x06HEP3\x00\x05"), uint16(6), uint8(3))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"), uint16(0), uint8(2))
	f.Add(v12(2, testSIP), uint16(0), uint8(255))
	f.Fuzz(func(t *testing.T, in []byte, maxFrame uint16, step uint8) {
		// Reference: frame the whole input by hand.
		var want [][]byte
		var wantErr error
		rest := in
		for {
			if len(rest) == 0 {
				wantErr = io.EOF
				break
			}
			k := min(len(rest), 4)
			if string(rest[:k]) != "HEP3"[:k] {
				wantErr = ErrBadFrame
				break
			}
			if len(rest) < 6 {
				wantErr = ErrPartialFrame
				break
			}
			n := int(binary.BigEndian.Uint16(rest[4:6]))
			limit := int(maxFrame)
			if limit == 0 {
				limit = MaxV3Len
			}
			if n < 6 || n > limit {
				wantErr = ErrBadFrame
				break
			}
			if n > len(rest) {
				wantErr = ErrPartialFrame
				break
			}
			want = append(want, rest[:n])
			rest = rest[n:]
		}

		var r io.Reader = bytes.NewReader(in)
		if step > 0 {
			r = &chunkReader{r, int(step)}
		}
		fr := NewFramer(r, int(maxFrame))
		for i, w := range want {
			got, err := fr.Next()
			if err != nil {
				t.Fatalf("frame %d: unexpected error: %v", i, err)
			}
			if !bytes.Equal(got, w) {
				t.Fatalf("frame %d: got %d bytes; want %d", i, len(got), len(w))
			}
		}
		got, err := fr.Next()
		if got != nil || !errors.Is(err, wantErr) {
			t.Fatalf("unexpected end; got %d bytes, %v; want %v", len(got), err, wantErr)
		}
		if wantErr == ErrPartialFrame && fr.Buffered() != len(rest) {
			t.Fatalf("unexpected Buffered; got %d; want %d", fr.Buffered(), len(rest))
		}
	})
}
