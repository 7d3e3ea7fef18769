package store

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/seed"
)

// FuzzBlockDecode feeds any bytes to the decoder: it must not panic, must
// end, and what it accepts must read the same whether the header fields
// are read at once or later (the query path), and must survive being
// written again (checkBlocks).
func FuzzBlockDecode(f *testing.F) {
	var pkts []hepvault.Packet
	pkts = append(pkts, fixturePackets(f)...)
	pkts = append(pkts, seed.New(seed.Config{Seed: 3}).Packets(300)...)
	for i := 0; i < len(pkts); i += 7 { // fields that differ from raw are stored
		pkts[i].HeadersFromRaw = false
		pkts[i].CallID, pkts[i].CSeq, pkts[i].UserAgent = "other-"+pkts[i].CallID, pkts[i].CSeq+1, "\xff\x00"
	}
	for _, seed := range fuzzSeeds {
		pkts = append(pkts, fuzzPackets(seed)...)
	}
	var buf []byte
	for _, r := range encodeBlocks(pkts, &buf) {
		f.Add(slices.Clone(r.data))
	}
	f.Add([]byte{})
	f.Add([]byte{blockVersion})
	f.Add([]byte{blockVersion + 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []hepvault.Packet
		d := newBlockDecoder(data)
		var p hepvault.Packet
		for d.next(&p) {
			got = append(got, p)
			if len(got) > len(data) {
				t.Fatalf("decoded %d packets from %d bytes", len(got), len(data))
			}
		}
		if d.next(&p) {
			t.Fatalf("next returned a packet after the end (err %v)", d.Err())
		}
		d.reset(data)
		d.keysOnly = true
		for i := 0; d.next(&p); i++ {
			if i >= len(got) {
				t.Fatalf("keysOnly decoded more packets than a full decode (%d)", len(got))
			}
			d.headers(&p)
			if diff := diffPacket(p, got[i]); diff != "" {
				t.Fatalf("packet %d: keysOnly then headers differs from a full decode: %s", i, diff)
			}
		}
		if d.Err() != nil {
			return
		}
		for i := 1; i < len(got); i++ {
			if got[i].CapturedAt.Before(got[i-1].CapturedAt) {
				t.Fatalf("packet %d captured before the one before it: %v < %v", i, got[i].CapturedAt, got[i-1].CapturedAt)
			}
		}
		checkBlocks(t, got)
	})
}

// FuzzBlockRoundTrip builds packets from the input (see fuzzPackets), cuts
// them into blocks and reads every block back: checkBlocks.
func FuzzBlockRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds {
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

// fuzzRaws are payloads fuzzPackets picks from: a request, a response
// with a Server header, folded headers, a CSeq without a method, bytes
// that are not UTF-8, NUL, an invalid message and empty.
var fuzzRaws = []string{
	inviteRaw,
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
// steps, backwards, anywhere from before year 1 to far future, duplicates)
// and whether the packet is repeated; then come the payload, the envelope,
// and the header fields: parsed from the payload (HeadersFromRaw, honestly
// or not) or partly set by hand.
func fuzzPackets(data []byte) []hepvault.Packet {
	const maxPackets, maxRawBytes = 2000, 4 << 20
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
			at = at.Add(time.Duration(r.u8()))
		case 2:
			at = at.Add(time.Duration(r.u8()) * time.Millisecond)
		case 3:
			at = at.Add(time.Duration(r.u16()) * time.Millisecond)
		case 4:
			at = at.Add(-time.Duration(r.u16()) * time.Millisecond)
		case 5:
			at = time.Unix(int64(r.u64())>>(r.u8()%64), int64(r.u32()%1e9))
		case 6:
			at = at.Add(time.Duration(int16(r.u16())) * time.Hour)
		case 7:
			at = []time.Time{{}, time.Unix(0, 0), time.Unix(-1, 999999999), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
				time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(1<<40, 0)}[int(r.u8())%6]
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

func fuzzPacket(r *fuzzReader, m *sip.Message, at time.Time, id int64, rawBytes *int, maxRawBytes int) hepvault.Packet {
	var raw []byte
	switch k := r.u8(); {
	case k < 200:
		raw = []byte(fuzzRaws[int(k)%len(fuzzRaws)])
	case k < 250:
		raw = []byte(r.str())
	default: // big: up to 512 KiB, to reach the bytes limit
		n := min(int(r.u16())*8, maxRawBytes-*rawBytes)
		raw = []byte(withBody(max(n, 0)))
	}
	*rawBytes += len(raw)
	p := hepvault.Packet{
		ID: id, CapturedAt: at, Raw: raw,
		CaptureID: r.u32(), SrcPort: r.u16(), DstPort: r.u16(), StatusCode: int(r.u16()),
		HEPVersion: r.u8(), ProtoType: r.u8(), Transport: hepvault.Transport(r.u8()), Kind: hepvault.Kind(r.u8()),
	}
	flags := r.u8()
	p.SrcIP, p.DstIP = fuzzAddr(r, flags&3), fuzzAddr(r, flags>>2&3)
	switch flags >> 4 & 3 {
	case 0:
		p.ReceivedAt = at.Add(time.Duration(r.u16()) * time.Microsecond)
	case 1:
		p.ReceivedAt = time.Unix(int64(r.u64())>>(r.u8()%64), int64(r.u32()%1e9))
	case 2:
		p.ReceivedAt = at.Add(-time.Duration(r.u32()))
	} // 3: zero
	p.InvalidReason, p.CorrelationID = r.str(), r.str()

	// The header fields: as parsed, then some set by hand.
	sip.Parse(raw, m)
	p.Method, p.RequestURI, p.Reason, p.CallID = string(m.Method), string(m.RequestURI), string(m.Reason), string(m.CallID)
	p.CSeq, p.CSeqMethod = m.CSeqNum, string(m.CSeqMethod)
	p.FromURI, p.FromTag, p.ToURI, p.ToTag = string(m.FromURI), string(m.FromTag), string(m.ToURI), string(m.ToTag)
	p.ViaBranch, p.UserAgent, p.Contact, p.ContentType = string(m.ViaBranch), string(m.UserAgent), string(m.Contact), string(m.ContentType)
	p.HeadersFromRaw = flags&0x40 != 0
	if flags&0x80 == 0 {
		return p
	}
	set := r.u16() // a bit per field set by hand; with HeadersFromRaw a lie the store does not check
	fields := []*string{&p.Method, &p.RequestURI, &p.Reason, &p.CallID, &p.CSeqMethod, &p.FromURI, &p.FromTag,
		&p.ToURI, &p.ToTag, &p.ViaBranch, &p.UserAgent, &p.Contact, &p.ContentType}
	for i, f := range fields {
		if set&(1<<i) != 0 {
			*f = r.str()
		}
	}
	if set&(1<<13) != 0 {
		p.CSeq = r.u32()
	}
	if set&(1<<14) != 0 { // a field equal to raw's but not the same string
		p.CallID = strings.Clone(p.CallID)
	}
	return p
}

func fuzzAddr(r *fuzzReader, kind byte) netip.Addr {
	switch kind {
	case 1:
		return netip.AddrFrom4([4]byte(append(r.next(4), make([]byte, 4)...)[:4]))
	case 2:
		return netip.AddrFrom16([16]byte(append(r.next(16), make([]byte, 16)...)[:16]))
	case 3:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], r.u32())
		return netip.AddrFrom16(netip.AddrFrom4(b).As16()) // IPv4-mapped IPv6
	}
	return netip.Addr{}
}

// fixturePackets are the packets of the Kamailio HEPv3 capture as the
// collector builds them.
func fixturePackets(tb testing.TB) []hepvault.Packet {
	tb.Helper()
	var (
		dec  hep.Decoder
		hp   hep.Packet
		m    sip.Message
		pkts []hepvault.Packet
	)
	for i, rec := range fixture.Load(tb, fixture.HEP3) {
		if err := dec.Decode(rec.Datagram, &hp); err != nil {
			tb.Fatalf("record %d: %v", i, err)
		}
		err := sip.Parse(hp.Payload, &m)
		pkts = append(pkts, collector.Build(&hp, &m, err, hp.Time().Add(time.Millisecond), int64(i+1)))
	}
	return pkts
}
