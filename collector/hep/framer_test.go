package hep

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/hepvault/hepvault/internal/fixture"
)

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// randReader returns 0 to 3000 bytes per Read, sometimes none.
type randReader struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *randReader) Read(p []byte) (int, error) {
	n := c.rnd.IntN(3000)
	if n == 0 {
		return 0, nil
	}
	return c.r.Read(p[:min(len(p), n)])
}

func fixtureStream(tb testing.TB) ([][]byte, []byte) {
	tb.Helper()
	var frames [][]byte
	var stream []byte
	for _, r := range fixture.Load(tb, fixture.HEP3) {
		frames = append(frames, r.Datagram)
		stream = append(stream, r.Datagram...)
	}
	return frames, stream
}

func TestFramer_Success(t *testing.T) {
	frames, stream := fixtureStream(t)
	f := func(name string, r io.Reader, frames [][]byte) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			fr := NewFramer(r, 0)
			var d Decoder
			var p Packet
			for i, want := range frames {
				got, err := fr.Next()
				if err != nil {
					t.Fatalf("frame %d: unexpected error: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("frame %d: unexpected frame; got %d bytes; want %d", i, len(got), len(want))
				}
				if err := d.Decode(got, &p); err != nil {
					t.Fatalf("frame %d: unexpected decode error: %v", i, err)
				}
			}
			for range 2 {
				if got, err := fr.Next(); err != io.EOF || got != nil {
					t.Fatalf("unexpected end; got %d bytes, %v; want io.EOF", len(got), err)
				}
			}
			if fr.Buffered() != 0 {
				t.Fatalf("unexpected Buffered; got %d; want 0", fr.Buffered())
			}
		})
	}
	f("whole", bytes.NewReader(stream), frames)
	f("one byte", iotest.OneByteReader(bytes.NewReader(stream)), frames)
	f("half", iotest.HalfReader(bytes.NewReader(stream)), frames)
	f("data with EOF", iotest.DataErrReader(bytes.NewReader(stream)), frames)
	f("7 bytes", &chunkReader{bytes.NewReader(stream), 7}, frames)
	f("6 bytes", &chunkReader{bytes.NewReader(stream), 6}, frames)
	f("random", &randReader{bytes.NewReader(stream), rand.New(rand.NewPCG(1, 2))}, frames)
	f("random data with EOF", iotest.DataErrReader(&randReader{bytes.NewReader(stream), rand.New(rand.NewPCG(3, 4))}), frames)
	f("empty", bytes.NewReader(nil), nil)

	// Frames of the largest size, read in pieces that straddle them, so the
	// buffer is compacted with a partial frame at its end.
	big := AppendV3(nil, &Packet{Payload: bytes.Repeat([]byte("z"), MaxV3Len-V3Len(&Packet{Payload: []byte{}}))})
	if len(big) != MaxV3Len {
		t.Fatalf("unexpected big frame; got %d bytes", len(big))
	}
	frames = [][]byte{frames[0], big, frames[1], big, big}
	f("max frames", &chunkReader{bytes.NewReader(bytes.Join(frames, nil)), 40000}, frames)
}

func TestFramer_Failure(t *testing.T) {
	frames, _ := fixtureStream(t)
	two := append(bytes.Clone(frames[0]), frames[1]...)
	f := func(name string, r io.Reader, maxFrame, wantFrames int, want error, wantBuffered int) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			fr := NewFramer(r, maxFrame)
			for i := range wantFrames {
				if _, err := fr.Next(); err != nil {
					t.Fatalf("frame %d: unexpected error: %v", i, err)
				}
			}
			for range 2 { // errors are sticky
				got, err := fr.Next()
				if !errors.Is(err, want) || got != nil {
					t.Fatalf("unexpected error; got %v; want %v", err, want)
				}
			}
			if fr.Buffered() != wantBuffered {
				t.Fatalf("unexpected Buffered; got %d; want %d", fr.Buffered(), wantBuffered)
			}
		})
	}
	n0 := len(frames[0])
	f("partial header", bytes.NewReader([]byte("HEP")), 0, 0, ErrPartialFrame, 3)
	f("partial body", bytes.NewReader(frames[0][:100]), 0, 0, ErrPartialFrame, 100)
	f("partial second", iotest.OneByteReader(bytes.NewReader(two[:n0+10])), 0, 1, ErrPartialFrame, 10)
	f("partial is unexpected EOF", bytes.NewReader(frames[0][:7]), 0, 0, io.ErrUnexpectedEOF, 7)
	f("garbage", bytes.NewReader([]byte("GET / HTTP/1.1\r\n\r\n")), 0, 0, ErrBadFrame, 18)
	f("garbage told at once", iotest.OneByteReader(io.MultiReader(bytes.NewReader([]byte("G")), neverReader{})), 0, 0, ErrBadFrame, 1)
	f("short garbage", bytes.NewReader([]byte("HX")), 0, 0, ErrBadFrame, 2)
	f("garbage after a frame", bytes.NewReader(append(bytes.Clone(frames[0]), "junk"...)), 0, 1, ErrBadFrame, 4)
	f("hepv2", bytes.NewReader(v12(2, testSIP)), 0, 0, ErrBadFrame, len(v12(2, testSIP)))
	f("length 0", bytes.NewReader(withTotal(frames[0], 0)), 0, 0, ErrFrameLength, n0)
	f("length 5", bytes.NewReader(withTotal(frames[0], 5)), 0, 0, ErrFrameLength, n0)
	f("over maxFrame", bytes.NewReader(two), n0, 1, ErrFrameLength, len(frames[1]))
	f("read error", iotest.TimeoutReader(bytes.NewReader(two)), 0, 2, iotest.ErrTimeout, 0)
	f("read error mid-frame", iotest.TimeoutReader(bytes.NewReader(two[:n0+8])), 0, 1, iotest.ErrTimeout, 8)
	f("read error at once", iotest.ErrReader(errTest), 0, 0, errTest, 0)
	f("no progress", neverReader{}, 0, 0, io.ErrNoProgress, 0)
}

var errTest = errors.New("test read error")

// neverReader returns nothing, forever.
type neverReader struct{}

func (neverReader) Read([]byte) (int, error) { return 0, nil }

// TestFramer_ErrorWithData: data and an error from the same Read yield the
// frame first, then the error.
func TestFramer_ErrorWithData(t *testing.T) {
	frames, _ := fixtureStream(t)
	fr := NewFramer(&dataThenErr{data: frames[0], err: errTest}, 0)
	if got, err := fr.Next(); err != nil || !bytes.Equal(got, frames[0]) {
		t.Fatalf("unexpected first result; got %d bytes, %v", len(got), err)
	}
	if _, err := fr.Next(); err != errTest {
		t.Fatalf("unexpected error; got %v; want %v", err, errTest)
	}
}

// dataThenErr returns its data with err in one Read, then io.EOF.
type dataThenErr struct {
	data []byte
	err  error
}

func (r *dataThenErr) Read(p []byte) (int, error) {
	if r.data == nil {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = nil
	return n, r.err
}

func TestFramer_Allocs(t *testing.T) {
	frames, stream := fixtureStream(t)
	var r bytes.Reader
	fr := NewFramer(&r, 0)
	fr.Next() // allocates the buffer
	buf := fr.buf
	allocs := testing.AllocsPerRun(10, func() {
		r.Reset(stream)
		*fr = Framer{r: &r, maxFrame: MaxV3Len, buf: buf}
		for range frames {
			if _, err := fr.Next(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("unexpected allocations per stream; got %v; want 0", allocs)
	}
}
