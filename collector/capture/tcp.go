package capture

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
)

// Bounds on what a TCP flow holds, so that a capture of something else, or
// with a hole, cannot take all memory.
const (
	// maxHeaderBytes: a SIP message whose headers do not end within this
	// many bytes is taken for something else.
	maxHeaderBytes = 64 << 10
	// maxBodyBytes: a larger Content-Length is not believed; the headers
	// are kept as an invalid message.
	maxBodyBytes = 1 << 20
	// maxPendingBytes: out-of-order data held while waiting for what is
	// missing before it; past this the hole is given up.
	maxPendingBytes = 1 << 20
)

// flowKey is one direction of a TCP connection.
type flowKey struct{ src, dst netip.AddrPort }

// flow is one direction of a TCP connection being put back together: bytes
// are appended in sequence-number order, and messages cut from the front.
type flow struct {
	key     flowKey
	order   uint64 // when it was first seen, to finish flows in file order
	next    uint32 // sequence number of the next byte expected
	buf     []byte // bytes not cut into messages yet: at most one incomplete message
	pending []segment
	pendLen int
	sawSIP  bool // it gave a message: garbage later is a hole, not another protocol
	notSIP  bool // the stream is some other protocol: its data is skipped
	resync  bool // after a hole: skip to the next SIP start line
}

type segment struct {
	seq  uint32
	data []byte
}

// segment handles one TCP segment.
func (rd *reader) segment(t *layers.TCP, ts time.Time, src, dst netip.AddrPort) {
	st := &rd.stats
	key := flowKey{src, dst}
	f := rd.flows[key]
	if t.SYN {
		if f != nil {
			rd.finish(f, ts) // the port pair is reused by a new connection
		}
		f = rd.newFlow(key, t.Seq+1)
	}
	data := t.Payload
	if len(data) == 0 {
		st.Skipped[ReasonNoPayload]++
		if f != nil && (t.FIN || t.RST) {
			rd.finish(f, ts)
		}
		return
	}
	if f == nil {
		// The capture began in the middle of the connection.
		f = rd.newFlow(key, t.Seq)
		f.resync = true
	}
	switch {
	case f.notSIP:
		st.Skipped[ReasonNotSIP]++
	case t.SYN:
		rd.add(f, t.Seq+1, data, ts) // TCP Fast Open: data after the SYN's own sequence number
	default:
		rd.add(f, t.Seq, data, ts)
	}
	if t.FIN || t.RST {
		rd.finish(f, ts)
	}
}

func (rd *reader) newFlow(key flowKey, next uint32) *flow {
	rd.nflows++
	f := &flow{key: key, order: rd.nflows, next: next}
	rd.flows[key] = f
	return f
}

// add puts data at seq into f and cuts what messages it completes.
func (rd *reader) add(f *flow, seq uint32, data []byte, ts time.Time) {
	// Sequence numbers wrap: compare by signed difference.
	d := int32(seq - f.next)
	switch {
	case d > 0:
		i, _ := slices.BinarySearchFunc(f.pending, seq, func(s segment, seq uint32) int { return int(int32(s.seq - seq)) })
		f.pending = slices.Insert(f.pending, i, segment{seq, append([]byte(nil), data...)})
		f.pendLen += len(data)
		if f.pendLen > maxPendingBytes {
			rd.skipHole(f, ts)
		}
		return
	case d < 0:
		if int32(seq+uint32(len(data))-f.next) <= 0 {
			rd.stats.Skipped[ReasonTCPDuplicate]++
			return
		}
		data = data[-d:] // a retransmission that brings new bytes too
	}
	f.buf = append(f.buf, data...)
	f.next += uint32(len(data))
	rd.drainPending(f)
	rd.cut(f, ts)
}

// drainPending appends the held segments that now follow on.
func (rd *reader) drainPending(f *flow) {
	for len(f.pending) > 0 {
		s := f.pending[0]
		d := int32(s.seq - f.next)
		if d > 0 {
			return
		}
		f.pending = f.pending[1:]
		f.pendLen -= len(s.data)
		if int32(s.seq+uint32(len(s.data))-f.next) <= 0 {
			rd.stats.Skipped[ReasonTCPDuplicate]++
			continue
		}
		f.buf = append(f.buf, s.data[-d:]...)
		f.next += uint32(len(s.data) + int(d))
	}
}

// skipHole gives up waiting for the data before the first held segment:
// the incomplete message in f.buf is lost, and reading goes on at the next
// SIP start line after the hole.
func (rd *reader) skipHole(f *flow, ts time.Time) {
	for len(f.pending) > 0 && rd.err == nil {
		rd.stats.Skipped[ReasonTCPGap]++
		f.buf = f.buf[:0]
		f.next = f.pending[0].seq
		f.resync = true
		rd.drainPending(f)
		rd.cut(f, ts)
	}
}

// finish ends a flow: held data after a hole is read, and what is left
// of an incomplete message is counted.
func (rd *reader) finish(f *flow, ts time.Time) {
	rd.skipHole(f, ts)
	if !f.notSIP && !onlyCRLF(f.buf) {
		rd.stats.Skipped[ReasonTCPUnfinished]++
	}
	delete(rd.flows, f.key)
}

// finishAll ends the flows still open at the end of the file, in the order
// they began, so that a file always gives its messages in the same order.
func (rd *reader) finishAll() {
	fs := make([]*flow, 0, len(rd.flows))
	for _, f := range rd.flows {
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, b *flow) int { return int(a.order - b.order) })
	for _, f := range fs {
		if rd.err != nil {
			return
		}
		rd.finish(f, rd.stats.Last)
	}
}

// cut hands over every complete message at the front of f.buf: a HEPv3
// frame (by its length field) or a SIP message (headers, the empty line,
// and Content-Length bytes of body, RFC 3261 §18.3).
func (rd *reader) cut(f *flow, ts time.Time) {
	buf := f.buf
	defer func() {
		// Keep the rest at the front of the buffer; what was handed over
		// has been copied.
		f.buf = append(f.buf[:0], buf...)
	}()
	for len(buf) > 0 && rd.err == nil && !f.notSIP {
		// CRLFs between messages are keep-alives (RFC 5626 §4.4.1) or
		// leftovers, ignored by SIP over streams (§7.5).
		n := 0
		for n < len(buf) && (buf[n] == '\r' || buf[n] == '\n') {
			n++
		}
		if n > 0 {
			rd.stats.Skipped[ReasonKeepalive]++
			buf = buf[n:]
			continue
		}
		if f.resync {
			i := startLineAt(buf)
			if i < 0 {
				// Keep the last, maybe incomplete, line; the rest is not
				// SIP (the tail of a message cut by a hole, or a stream of
				// another protocol whose start the capture missed).
				if lf := bytes.LastIndexByte(buf, '\n'); lf >= 0 {
					buf = buf[lf+1:]
					rd.stats.Skipped[ReasonNotSIP]++
				}
				if len(buf) > maxHeaderBytes {
					buf = buf[:0]
					rd.stats.Skipped[ReasonNotSIP]++
				}
				return
			}
			buf, f.resync = buf[i:], false
		}
		size, act := rd.messageSize(f, buf)
		switch act {
		case needMore:
			return
		case discard:
			buf = buf[size:] // not SIP: on to the next start line
			continue
		}
		msg := buf[:size]
		buf = buf[size:]
		rd.err = rd.message(msg, meta{ts: ts, src: f.key.src, dst: f.key.dst, transport: hepvault.TransportTCP})
		f.sawSIP = true
	}
	if f.notSIP {
		buf = buf[:0]
	}
}

// What cut does with the front of a flow's buffer.
type cutAction uint8

const (
	needMore cutAction = iota // wait for more bytes (or the flow is not SIP: f.notSIP)
	emit                      // hand over a message of the given size
	discard                   // drop the given number of bytes and look for a start line
)

// messageSize says how long the message at the front of buf is, or what
// else to do.
func (rd *reader) messageSize(f *flow, buf []byte) (int, cutAction) {
	if len(buf) >= 4 && string(buf[:4]) == "HEP3" {
		if len(buf) < 6 {
			return 0, needMore
		}
		n := int(binary.BigEndian.Uint16(buf[4:6]))
		if n < 6 {
			rd.stats.Skipped[ReasonBadHEP]++
			f.notSIP = true
			return 0, needMore
		}
		if len(buf) < n {
			return 0, needMore
		}
		return n, emit
	}
	lf := bytes.IndexByte(buf, '\n')
	if lf >= 0 && !isStartLine(&rd.msg, buf[:lf+1]) {
		return lf + 1, rd.notSIP(f)
	}
	end := headerEnd(buf)
	if end < 0 {
		if len(buf) <= maxHeaderBytes {
			return 0, needMore
		}
		if lf < 0 {
			lf = len(buf) - 1
		}
		return lf + 1, rd.notSIP(f)
	}
	_ = sip.Parse(buf[:end], &rd.msg)
	body := rd.msg.ContentLength
	if body < 0 || body > maxBodyBytes {
		// Content-Length is mandatory over TCP (§20.14); without a usable
		// one the headers are all there is.
		body = 0
	}
	if len(buf) < end+body {
		return 0, needMore
	}
	return end + body, emit
}

// notSIP counts what is at the front of f as not SIP. A stream that never
// carried SIP is some other protocol, skipped from now on; in one that did
// there was a hole, and reading goes on at the next start line.
func (rd *reader) notSIP(f *flow) cutAction {
	rd.stats.Skipped[ReasonNotSIP]++
	if f.sawSIP {
		f.resync = true
		return discard
	}
	f.notSIP = true
	return needMore
}

// headerEnd returns the offset just past the empty line that ends the
// headers, or -1. Lines may end in CRLF or, leniently, LF.
func headerEnd(buf []byte) int {
	for i := 0; ; {
		lf := bytes.IndexByte(buf[i:], '\n')
		if lf < 0 {
			return -1
		}
		i += lf + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i + 2
		}
	}
}

// isStartLine reports whether line (ending in LF) is a SIP Request-Line or
// Status-Line.
func isStartLine(m *sip.Message, line []byte) bool {
	return !notStartLine(sip.Parse(line, m))
}

// startLineAt returns the offset of the first line in buf that is a SIP
// start line, or -1.
func startLineAt(buf []byte) int {
	var m sip.Message
	for i := 0; i < len(buf); {
		lf := bytes.IndexByte(buf[i:], '\n')
		if lf < 0 {
			return -1
		}
		if isStartLine(&m, buf[i:i+lf+1]) {
			return i
		}
		i += lf + 1
	}
	return -1
}
