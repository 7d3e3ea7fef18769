package hep

import (
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Every error Decode returns wraps exactly one of the first
// six; the Framer returns ErrBadFrame, ErrPartialFrame, io.EOF or the
// reader's own error. Callers count them with errors.Is.
var (
	// ErrShortPacket: the input ends before the fixed header does
	// (empty input, "HEP3" without its length, a v1/v2 packet shorter than
	// its header).
	ErrShortPacket = errors.New("hep: short packet")
	// ErrNotHEP: the input is no HEP we know: neither "HEP3" nor a
	// version byte of 1 or 2 with a known address family.
	ErrNotHEP = errors.New("hep: not a HEP packet")
	// ErrBadLength: a length in the fixed header lies: the HEPv3 total
	// length is under 6 or past the end of the input, or the HEPv1/v2
	// header length does not match the address family.
	ErrBadLength = errors.New("hep: bad packet length")
	// ErrBadChunk: a HEPv3 chunk is malformed: its length is under 6 or runs
	// past the packet, or its data has the wrong size for its type.
	ErrBadChunk = errors.New("hep: bad chunk")
	// ErrNoPayload: the packet is well formed but carries no payload (no
	// chunk 0x000f/0x0010, or an empty one). The other fields are decoded.
	ErrNoPayload = errors.New("hep: no payload")
	// ErrInflate: the compressed payload (chunk 0x0010) is neither gzip nor
	// zlib, is corrupt, or inflates past the Decoder's cap.
	ErrInflate = errors.New("hep: bad compressed payload")

	// ErrBadFrame: a TCP stream does not hold a HEPv3 packet at a frame
	// boundary, or its total length is under 6 or over the Framer's cap.
	// The stream cannot be resynchronised: close the connection.
	ErrBadFrame = errors.New("hep: bad frame")
	// ErrFrameLength: the frame's total length is under 6 or over the
	// Framer's cap. It wraps ErrBadFrame.
	ErrFrameLength = fmt.Errorf("%w: length out of range", ErrBadFrame)
	// ErrPartialFrame: the stream ended in the middle of a frame. It wraps
	// io.ErrUnexpectedEOF.
	ErrPartialFrame = fmt.Errorf("hep: stream ended mid-frame: %w", io.ErrUnexpectedEOF)
)
