package hep

import (
	"encoding/binary"
	"fmt"
	"io"
)

// framerBufSize holds the largest possible HEPv3 packet, so one buffer
// serves any maxFrame, and lets one Read bring in several small packets.
const framerBufSize = 64 << 10

// Framer cuts a TCP stream of HEPv3 packets, sent back to back, into
// packets by the total length field (HEP.md, "Over TCP"). Agents may
// coalesce packets into one segment or split one over several; the Framer
// does not care. HEPv1/v2 carry no length and cannot be framed: a stream of
// them is ErrBadFrame.
//
// A Framer is not safe for concurrent use.
type Framer struct {
	r          io.Reader
	maxFrame   int
	buf        []byte
	start, end int   // buf[start:end] is read but not yet returned
	err        error // sticky: once the stream is lost it stays lost
	rerr       error // read error that came with the bytes of a frame, for the next call
}

// NewFramer returns a Framer reading r that rejects packets longer than
// maxFrame bytes; maxFrame <= 0 or over MaxV3Len means MaxV3Len.
func NewFramer(r io.Reader, maxFrame int) *Framer {
	if maxFrame <= 0 || maxFrame > MaxV3Len {
		maxFrame = MaxV3Len
	}
	return &Framer{r: r, maxFrame: maxFrame}
}

// Next returns the next whole HEPv3 packet, ready for Decode. The slice
// aliases the Framer's buffer and is valid until the next call.
//
// Errors: io.EOF when the stream ends cleanly between packets;
// ErrPartialFrame when it ends inside one; ErrBadFrame when the bytes at a
// packet boundary are not "HEP3" or the length is under 6 or over maxFrame
// (close the connection: the stream cannot be resynchronised); otherwise
// the reader's error as is (net.ErrClosed, say). Errors are sticky.
func (f *Framer) Next() ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.buf == nil {
		f.buf = make([]byte, framerBufSize)
	}
	if err := f.fill(v3HeaderLen); err != nil {
		f.err = err
		return nil, err
	}
	hdr := f.buf[f.start : f.start+v3HeaderLen]
	n := int(binary.BigEndian.Uint16(hdr[4:6]))
	if n < v3HeaderLen || n > f.maxFrame {
		f.err = fmt.Errorf("%w: total length %d, want %d to %d", ErrFrameLength, n, v3HeaderLen, f.maxFrame)
		return nil, f.err
	}
	if err := f.fill(n); err != nil {
		f.err = err
		return nil, err
	}
	frame := f.buf[f.start : f.start+n : f.start+n]
	f.start += n
	return frame, nil
}

// Buffered returns the number of bytes read from the stream but not yet
// returned by Next: after an error, the size of the partial frame.
func (f *Framer) Buffered() int { return f.end - f.start }

// maxEmptyReads bounds reads returning 0, nil in a row (as bufio does).
const maxEmptyReads = 100

// fill reads until at least n bytes are buffered. It checks the magic as
// soon as any byte of it is in, so a client speaking something else is told
// at once rather than when it has sent six bytes, and before a short stream
// is called a partial frame.
func (f *Framer) fill(n int) error {
	if f.start+n > len(f.buf) {
		// Move the partial frame to the front; the slice returned by the
		// previous Next is invalidated, as documented.
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	}
	err, empty := f.rerr, 0
	f.rerr = nil
	for {
		have := f.end - f.start
		if k := min(have, len(magicV3)); string(f.buf[f.start:f.start+k]) != string(magicV3[:k]) {
			return fmt.Errorf("%w: stream starts %q, not \"HEP3\"", ErrBadFrame, f.buf[f.start:f.start+k])
		}
		switch {
		case have >= n:
			f.rerr = err // io.Reader may return data and an error together
			return nil
		case err == io.EOF && have == 0:
			return io.EOF
		case err == io.EOF:
			return fmt.Errorf("%w: %d of %d bytes", ErrPartialFrame, have, n)
		case err != nil:
			return err
		}
		var m int
		m, err = f.r.Read(f.buf[f.end:])
		if m < 0 || m > len(f.buf)-f.end {
			panic("hep: Framer: reader returned an invalid count")
		}
		f.end += m
		if m == 0 && err == nil {
			if empty++; empty >= maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
}
