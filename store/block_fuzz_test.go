package store

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/seed"
)

// FuzzBlockDecode feeds any bytes to the decoder, both as blocks in the
// spool's form (readBlock, then the decoder) and as a block's packet_v1[]:
// it must not panic, must end, must fail only with errBadBlock, must give
// text that is valid UTF-8 without NUL (decodeAll), and what it accepts must
// survive being written again (checkBlocks).
func FuzzBlockDecode(f *testing.F) {
	for _, b := range encodeBlocks(decoderPackets(f)) {
		f.Add(appendBlock(nil, &b))
		f.Add(b.packets)
	}
	f.Add([]byte{})
	f.Add([]byte{currentFormat})
	f.Add([]byte{currentFormat + 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rest := data
		for len(rest) > 0 {
			b, next, err := readBlock(rest)
			if err != nil {
				if !errors.Is(err, errBadBlock) {
					t.Fatalf("readBlock: unexpected error %v; want errBadBlock", err)
				}
				break
			}
			if len(next) >= len(rest) {
				t.Fatalf("readBlock read a block of no bytes")
			}
			rest = next
			checkDecoded(t, b.format, b.packets)
		}
		checkDecoded(t, currentFormat, data)
	})
}

// decoderPackets are what the decoder's tests encode and read back: the
// golden packets, seeded traffic, every field set, none set, and what each
// fuzz seed builds.
func decoderPackets(tb testing.TB) []hepvault.Packet {
	var pkts []hepvault.Packet
	pkts = append(pkts, goldenPackets(tb)...)
	pkts = append(pkts, seed.New(seed.Config{Seed: 3}).Packets(300)...)
	pkts = append(pkts, fullPacket(), hepvault.Packet{})
	for _, s := range fuzzSeeds {
		pkts = append(pkts, fuzzPackets(s)...)
	}
	return pkts
}

// checkDecoded decodes a block; what the decoder accepts must read back the
// same once written again.
func checkDecoded(t *testing.T, format int16, packets []byte) {
	t.Helper()
	checkCanonicalOfColumns(t, func(d *blockDecoder) error { return d.reset(format, packets) })
	got, err := decodeAll(format, packets)
	if err != nil {
		if !errors.Is(err, errBadBlock) {
			t.Fatalf("decode: unexpected error %v; want errBadBlock", err)
		}
		return
	}
	checkBlocks(t, got)
}

// FuzzBlockRoundTrip builds packets from the input (see fuzzPackets), cuts
// them into blocks and reads every block back (checkBlocks): every field as
// written, times to the microsecond, text as cleanText gives it.
func FuzzBlockRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range fixtureSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBlocks(t, fuzzPackets(data))
	})
}

// fuzzSeeds exercise each choice fuzzPackets makes.
var fuzzSeeds = [][]byte{
	{},
	{0, 0, 0, 0},
	[]byte("\x01\x05\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"),
	[]byte("\x21\xff\x10\x00\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"),
	[]byte("\x05\xff\xff\xff\xff\xff\xff\xff\xf0\x00\x00\x00\x00\x00\x12\x06\x0ffoo\x00\xc3\x28bar\x02\x03"),
	[]byte("\x0d\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x0e\x07\x13\x37\x01\x02\x03\x04\x05\x06"),
	[]byte("\x07\x03\x16\x01\x03\xff\xff\xff\xff\xff\xff\xff\x7f\x42\x07\xff\xfe\x0a\x00\x00\x01"),
	[]byte("\x26\x80\x00\x03\x02\x10\x00\x06\x00\x00\x00\x03\x06\x03\x00\x10\x00\x11\x26\x80\x00\x03"),
	[]byte("\x03\xff\xff\x15\x12\x14\x12\x04\x00\x10\x03\x14\x13\x05\x11\x16\x10\x02\x13\x12\x14\x10\x00"),
	[]byte("\x01\x02\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x03\x04\x05\x06\x07\x08\x09"),
}

// fixtureSeeds are inputs of fuzzPackets that carry the SIP messages of the
// Kamailio capture as payloads, a few to an input.
func fixtureSeeds(tb testing.TB) [][]byte {
	recs := fixture.Load(tb, fixture.HEP3)
	var seeds [][]byte
	for i := 0; i < len(recs); i += 8 {
		var s []byte
		for _, r := range recs[i:min(i+8, len(recs))] {
			payload := r.SIP()
			// op: step by u8 microseconds, the next id; a payload from the
			// input; envelope; flags: IPv4 both ends, received u16 µs later
			// (fuzzPacket reads in this order).
			s = append(s, 0x01, byte(r.Truth.TsUsec), 245)
			s = binary.LittleEndian.AppendUint16(s, uint16(len(payload)))
			s = append(s, payload...)
			s = binary.LittleEndian.AppendUint32(s, r.Truth.CaptureID)
			s = binary.LittleEndian.AppendUint16(s, r.Truth.SrcPort)
			s = binary.LittleEndian.AppendUint16(s, r.Truth.DstPort)
			s = append(s, 3, 1, byte(r.Truth.IPProto), 0x05, 127, 0, 0, 1, 127, 0, 0, 2, 0x10, 0x02)
			s = append(s, 0, 0) // no invalid reason, no correlation id
		}
		seeds = append(seeds, s)
	}
	return seeds
}

// fuzzReader hands out the fuzz input; past its end it gives zeros.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) next(n int) []byte {
	n = min(n, len(r.b))
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *fuzzReader) u8() byte {
	if len(r.b) == 0 {
		return 0
	}
	return r.next(1)[0]
}

func (r *fuzzReader) u16() uint16 { return uint16(r.u8()) | uint16(r.u8())<<8 }
func (r *fuzzReader) u32() uint32 { return uint32(r.u16()) | uint32(r.u16())<<16 }
func (r *fuzzReader) u64() uint64 { return uint64(r.u32()) | uint64(r.u32())<<32 }

// str is a short string of input bytes: empty, NUL or invalid UTF-8 as they come.
func (r *fuzzReader) str() string { return string(r.next(int(r.u8() % 32))) }

// farTime is a time up to 2^43 s (278,000 years) either side of 1970, which
// any int64 of microseconds holds.
func (r *fuzzReader) farTime() time.Time {
	sec := int64(r.u64()) >> (r.u8() % 64) % (1 << 43)
	return time.Unix(sec, int64(r.u32()%1e9))
}

// fuzzRaws are payloads fuzzPackets picks from: a request with every user
// a message can have, a response with a Server header, folded headers, a
// CSeq without a method, bytes that are not UTF-8, NUL, an invalid message
// and empty.
var fuzzRaws = []string{
	inviteRaw,
	"INVITE sip:%2B49%2030%207741528@example.com;user=phone SIP/2.0\r\nVia: SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKp\r\n" +
		"From: \"Bob\" <tel:+49-30-111;phone-context=x>;tag=9\r\nTo: <sip:49307741528@example.com>\r\n" +
		"P-Asserted-Identity: <sip:alice%40home@example.com>\r\nCall-ID: pai-1\r\nCSeq: 1 INVITE\r\n\r\n",
	"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx1\r\nFrom: <sip:alice@example.com>;tag=a1\r\n" +
		"To: <sip:bob@example.com>;tag=b2\r\nCall-ID: mig-1@10.0.0.1\r\nCSeq: 7 INVITE\r\nServer: pbx\r\n" +
		"Contact: <sip:bob@10.0.0.2>\r\nContent-Length: 0\r\n\r\n",
	"BYE sip:b@x SIP/2.0\r\nUser-Agent: a\r\n b\r\nm: <sip:x>;\r\n\texpires=1\r\ni: x\r\n y\r\nCSeq: 5\r\n\r\n",
	"MESSAGE sip:\xff@x SIP/2.0\r\nCall-ID: \xc3\x28\x00id\r\nFrom: <sip:\x00a>;tag=\xfe\r\nCSeq: 4294967296 MESSAGE\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 3\r\n\r\n\xff\x00x",
	"SIP/2.0 99 Low\r\nCall-ID: half",
	"\r\n\r\n",
	"",
}

// fuzzPackets turns input bytes into packets. Per packet, an op byte
// chooses how capture time and id move from the previous packet (small
// steps, backwards, anywhere from 278,000 years before 1970 to as long
// after, duplicates) and whether the packet is repeated; then come the
// payload, the envelope, and the fields: as the collector extracts them from
// the payload, some then set by hand (a stored packet keeps what it was
// written with, whatever its payload says).
func fuzzPackets(data []byte) []hepvault.Packet {
	const maxPackets, maxRawBytes = 600, 1 << 20 // enough for every limit of a block
	r := &fuzzReader{b: data}
	var (
		pkts     []hepvault.Packet
		m        sip.Message
		rawBytes int
	)
	at := time.Date(2026, 1, 5, 23, 59, 59, 0, time.UTC)
	var id int64
	zones := []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("west", -11*3600)}
	for len(r.b) > 0 && len(pkts) < maxPackets {
		op := r.u8()
		switch op & 7 {
		case 1:
			at = at.Add(time.Duration(r.u8()) * time.Microsecond)
		case 2:
			at = at.Add(time.Duration(r.u8()) * time.Millisecond)
		case 3:
			at = at.Add(time.Duration(r.u16()) * time.Millisecond)
		case 4:
			at = at.Add(-time.Duration(r.u16()) * time.Millisecond)
		case 5:
			at = r.farTime()
		case 6:
			at = at.Add(time.Duration(int16(r.u16())) * time.Hour)
		case 7:
			at = []time.Time{{}, time.Unix(0, 0), time.Unix(-1, 999999999), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
				time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC), time.Unix(1<<40, 0), at.Add(time.Duration(r.u16()))}[int(r.u8())%7]
		}
		at = at.In(zones[int(op>>6)%len(zones)])
		switch (op >> 3) & 3 {
		case 0:
			id++
		case 2:
			id = int64(r.u64())
		case 3:
			id -= int64(r.u8())
		} // 1: the same id
		p := fuzzPacket(r, &m, at, id, &rawBytes, maxRawBytes)
		pkts = append(pkts, p)
		if op&0x20 != 0 { // a run of copies, step apart
			n, step := int(r.u8()), time.Duration(r.u16())*time.Microsecond
			for range min(n, maxPackets-len(pkts)) {
				if rawBytes += len(p.Raw); rawBytes > maxRawBytes {
					break
				}
				at, id = at.Add(step), id+1
				p.CapturedAt, p.ID = at, id
				pkts = append(pkts, p)
			}
		}
	}
	return pkts
}

// fuzzPacket reads one packet: payload; capture id, ports, HEP version,
// proto type, transport; flags (addresses, receive time, fields by hand);
// addresses; receive time; invalid reason and correlation id; fields set by
// hand.
func fuzzPacket(r *fuzzReader, m *sip.Message, at time.Time, id int64, rawBytes *int, maxRawBytes int) hepvault.Packet {
	var raw []byte
	switch k := r.u8(); {
	case k < 200:
		raw = []byte(fuzzRaws[int(k)%len(fuzzRaws)])
	case k < 240:
		raw = []byte(r.str())
	case k < 250: // as long as the input says
		raw = append([]byte(nil), r.next(int(r.u16()))...)
	default: // big: up to 512 KiB, to reach the bytes limit at once
		n := min(int(r.u16())*8, maxRawBytes-*rawBytes)
		raw = []byte(withBody(max(n, 0)))
	}
	*rawBytes += len(raw)
	p := hepvault.Packet{
		ID: id, CapturedAt: at, Raw: raw,
		CaptureID: r.u32(), SrcPort: r.u16(), DstPort: r.u16(),
		HEPVersion: r.u8(), ProtoType: r.u8(), Transport: hepvault.Transport(r.u8()),
	}
	flags := r.u8()
	p.SrcIP, p.DstIP = fuzzAddr(r, flags&3), fuzzAddr(r, flags>>2&3)
	switch flags >> 4 & 3 {
	case 0:
		p.ReceivedAt = at.Add(time.Duration(r.u16()) * time.Microsecond)
	case 1:
		p.ReceivedAt = r.farTime()
	case 2:
		p.ReceivedAt = at.Add(-time.Duration(r.u32()))
	} // 3: zero
	p.InvalidReason, p.CorrelationID = r.str(), r.str()

	// The fields as the collector extracts them.
	err := sip.Parse(raw, m)
	p.Kind, p.StatusCode = m.Kind, m.StatusCode
	if err != nil {
		p.Kind = hepvault.KindInvalid
	}
	p.Method, p.RequestURI, p.Reason, p.CallID = string(m.Method), string(m.RequestURI), string(m.Reason), string(m.CallID)
	p.CSeq, p.CSeqMethod = m.CSeqNum, string(m.CSeqMethod)
	p.FromURI, p.FromTag, p.ToURI, p.ToTag = string(m.FromURI), string(m.FromTag), string(m.ToURI), string(m.ToTag)
	user := func(uri []byte) string { return string(sip.URIUser(uri)) }
	p.FromUser, p.ToUser, p.RURIUser, p.PAIUser = user(m.FromURI), user(m.ToURI), user(m.RequestURI), user(m.PAIURI)
	p.ViaBranch, p.UserAgent, p.Contact, p.ContentType = string(m.ViaBranch), string(m.UserAgent), string(m.Contact), string(m.ContentType)
	p.CorrelationHeader = string(m.Correlation)
	if flags&0xc0 == 0 {
		return p
	}
	// Fields set by hand: a bit per field; the store checks none against Raw.
	set := r.u32()
	fields := []*string{&p.Method, &p.RequestURI, &p.Reason, &p.CallID, &p.CSeqMethod, &p.FromURI, &p.FromTag,
		&p.ToURI, &p.ToTag, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType,
		&p.FromUser, &p.ToUser, &p.RURIUser, &p.PAIUser, &p.CorrelationHeader}
	for i, f := range fields {
		if set&(1<<i) != 0 {
			*f = r.str()
		}
	}
	if set&(1<<20) != 0 {
		p.CSeq = r.u32()
	}
	if set&(1<<21) != 0 {
		p.Kind = hepvault.Kind(r.u8())
	}
	if set&(1<<22) != 0 { // any value of the column's type, smallint
		p.StatusCode = int(int16(r.u16()))
	}
	if set&(1<<23) != 0 { // a field equal to raw's but not the same string
		p.CallID = strings.Clone(p.CallID)
	}
	return p
}

func fuzzAddr(r *fuzzReader, kind byte) netip.Addr {
	switch kind {
	case 1:
		return netip.AddrFrom4([4]byte(append(r.next(4), make([]byte, 4)...)[:4]))
	case 2:
		a := netip.AddrFrom16([16]byte(append(r.next(16), make([]byte, 16)...)[:16]))
		if r.u8()&1 != 0 && !a.Is4In6() {
			a = a.WithZone("eth0") // not kept
		}
		return a
	case 3:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], r.u32())
		return netip.AddrFrom16(netip.AddrFrom4(b).As16()) // IPv4-mapped IPv6
	}
	return netip.Addr{}
}
