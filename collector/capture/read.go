package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/ip4defrag"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// Errors of Read; test them with errors.Is.
var (
	// ErrFormat: the file is neither pcap nor pcapng (gzipped or not), or
	// its file header is broken.
	ErrFormat = errors.New("capture: not a pcap or pcapng file")
	// ErrCorrupt: a record header in the middle of the file is garbage
	// (a length past the snap length, an unknown interface); the records
	// after it cannot be found. Everything before it was delivered.
	ErrCorrupt = errors.New("capture: corrupt record")
)

// Config tunes a Read; the zero value is ready to use.
type Config struct {
	// Progress, when set, is called with the counters so far every
	// ProgressEvery records and once at the end.
	Progress      func(Stats)
	ProgressEvery int // default 4096
	// CorrelationHeaders are read as correlating the legs of a call, beside
	// X-CID and X-Call-ID, as the collector reads them.
	CorrelationHeaders []sip.CorrelationHeader
}

// Func receives each SIP message; an error stops Read and is returned.
type Func func(p hepvault.Packet) error

// Read reads the capture in r and calls fn with every SIP message in it, in
// the order the messages complete in the file. The Packets own their
// memory. It returns what it counted, and an error wrapping ErrFormat or
// ErrCorrupt when the file cannot be read (to the end), or fn's error.
// A file that ends inside a record (a capture cut short) is not an error:
// the record is counted as truncated.
func Read(r io.Reader, cfg Config, fn Func) (Stats, error) {
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 4096
	}
	rd := &reader{cfg: cfg, fn: fn, ids: newIDGen(), flows: map[flowKey]*flow{},
		defrag: ip4defrag.NewIPv4Defragmenter()}
	rd.in = &countingReader{r: r}
	err := rd.run()
	rd.stats.Bytes = rd.in.n
	if cfg.Progress != nil {
		cfg.Progress(rd.stats)
	}
	return rd.stats, err
}

// reader is the state of one Read: decoders reused record after record,
// the TCP flows, and the counters.
type reader struct {
	cfg    Config
	fn     Func
	in     *countingReader
	stats  Stats
	ids    *idGen
	flows  map[flowKey]*flow
	nflows uint64
	defrag *ip4defrag.IPv4Defragmenter
	err    error // from fn: stops reading

	dec hep.Decoder
	hp  hep.Packet
	msg sip.Message
	ip4 layers.IPv4
	ip6 layers.IPv6
	udp layers.UDP
	tcp layers.TCP
	fb  feedback
}

// source is what pcapgo's two readers have in common.
type source interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// File magic numbers, as the first 4 bytes read little-endian.
const (
	magicPcapUsec   = 0xa1b2c3d4
	magicPcapNsec   = 0xa1b23c4d
	magicPcapUsecBE = 0xd4c3b2a1
	magicPcapNsecBE = 0x4d3cb2a1
	magicPcapNG     = 0x0a0d0d0a // the section header block type, a palindrome
)

// open detects the format by its magic number and returns the record
// source and how to find a record's link type.
func (rd *reader) open() (source, func(gopacket.CaptureInfo) layers.LinkType, error) {
	br := bufio.NewReaderSize(rd.in, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: file shorter than a file header (%d bytes)", ErrFormat, len(magic))
	}
	if magic[0] == 0x1f && magic[1] == 0x8b { // gzip, RFC 1952
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrFormat, err)
		}
		br = bufio.NewReaderSize(gz, 64<<10)
		if magic, err = br.Peek(4); err != nil {
			return nil, nil, fmt.Errorf("%w: gzipped file shorter than a file header", ErrFormat)
		}
	}
	switch binary.LittleEndian.Uint32(magic) {
	case magicPcapNG:
		ng, err := pcapgo.NewNgReader(&ngGuard{r: br}, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: pcapng: %v", ErrFormat, err)
		}
		return ng, func(ci gopacket.CaptureInfo) layers.LinkType {
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					return lt
				}
			}
			return ng.LinkType()
		}, nil
	case magicPcapUsec, magicPcapNsec, magicPcapUsecBE, magicPcapNsecBE:
		pc, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: pcap: %v", ErrFormat, err)
		}
		// The reader refuses records longer than the snap length, and
		// allocates what one claims up to it. Some writers put a snap
		// length smaller than their records (or 0), some 4 GiB.
		pc.SetSnaplen(min(max(pc.Snaplen(), 1<<18), maxRecord))
		lt := pc.LinkType()
		return pc, func(gopacket.CaptureInfo) layers.LinkType { return lt }, nil
	}
	return nil, nil, fmt.Errorf("%w: it starts with % x", ErrFormat, magic)
}

func (rd *reader) run() error {
	src, linkOf, err := rd.open()
	if err != nil {
		return err
	}
	for rd.err == nil {
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			// io.ReadFull gives io.EOF when a record's data is missing
			// altogether: the header said it had some.
			if (errors.Is(err, io.EOF) && ci.CaptureLength > 0) || errors.Is(err, io.ErrUnexpectedEOF) {
				rd.stats.Records++
				rd.stats.Skipped[ReasonTruncated]++
				break
			}
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("%w: record %d (near byte %d): %v", ErrCorrupt, rd.stats.Records+1, rd.in.n, err)
		}
		rd.record(linkOf(ci), data, ci.Timestamp)
		if rd.cfg.Progress != nil && rd.stats.Records%uint64(rd.cfg.ProgressEvery) == 0 {
			rd.stats.Bytes = rd.in.n
			rd.cfg.Progress(rd.stats)
		}
	}
	if rd.err != nil {
		return rd.err
	}
	rd.finishAll()
	rd.stats.Skipped[ReasonFragment] += uint64(rd.defrag.DiscardOlderThan(time.Unix(1<<40, 0)))
	return rd.err
}

// record handles one frame.
func (rd *reader) record(lt layers.LinkType, frame []byte, ts time.Time) {
	st := &rd.stats
	st.Records++
	if st.First.IsZero() {
		st.First = ts
	}
	st.Last = ts
	if st.Records%4096 == 0 {
		// Fragments of a datagram arrive within moments of each other.
		st.Skipped[ReasonFragment] += uint64(rd.defrag.DiscardOlderThan(ts.Add(-30 * time.Second)))
	}
	pkt, reason, ok := network(lt, frame)
	if !ok {
		st.Skipped[reason]++
		return
	}
	rd.ip(pkt, ts)
}

// meta is where a payload came from.
type meta struct {
	ts        time.Time
	src, dst  netip.AddrPort
	transport hepvault.Transport
}

func (rd *reader) ip(pkt []byte, ts time.Time) {
	st := &rd.stats
	rd.fb = false
	if len(pkt) == 0 {
		st.Skipped[ReasonTruncated]++
		return
	}
	var (
		proto    layers.IPProtocol
		payload  []byte
		src, dst netip.Addr
	)
	if pkt[0]>>4 == 4 {
		ip := &rd.ip4
		if err := ip.DecodeFromBytes(pkt, &rd.fb); err != nil {
			st.Skipped[rd.fb.reason()]++
			return
		}
		if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
			if rd.fb {
				st.Skipped[ReasonTruncated]++
				return
			}
			// The defragmenter keeps the fragments: they need their own copy.
			frag := new(layers.IPv4)
			if err := frag.DecodeFromBytes(append([]byte(nil), pkt...), gopacket.NilDecodeFeedback); err != nil {
				st.Skipped[ReasonMalformed]++
				return
			}
			whole, err := rd.defrag.DefragIPv4WithTimestamp(frag, ts)
			if err != nil {
				st.Skipped[ReasonMalformed]++
				return
			}
			if whole == nil {
				return // more fragments to come
			}
			ip = whole
		}
		proto, payload = ip.Protocol, ip.Payload
		src, dst = addr4(ip.SrcIP), addr4(ip.DstIP)
	} else {
		ip := &rd.ip6
		if err := ip.DecodeFromBytes(pkt, &rd.fb); err != nil {
			st.Skipped[rd.fb.reason()]++
			return
		}
		proto, payload = ip.NextHeader, ip.Payload
		if ip.HopByHop != nil {
			proto = ip.HopByHop.NextHeader
		}
		// Routing and destination options headers: skip to what follows.
		for proto == layers.IPProtocolIPv6Routing || proto == layers.IPProtocolIPv6Destination {
			if len(payload) < 2 || len(payload) < (int(payload[1])+1)*8 {
				st.Skipped[ReasonTruncated]++
				return
			}
			proto, payload = layers.IPProtocol(payload[0]), payload[(int(payload[1])+1)*8:]
		}
		if proto == layers.IPProtocolIPv6Fragment {
			st.Skipped[ReasonFragment]++
			return
		}
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
	}
	switch proto {
	case layers.IPProtocolUDP:
		if err := rd.udp.DecodeFromBytes(payload, &rd.fb); err != nil || rd.fb {
			st.Skipped[rd.fb.reason()]++
			return
		}
		if len(rd.udp.Payload) == 0 {
			st.Skipped[ReasonNoPayload]++
			return
		}
		rd.err = rd.message(rd.udp.Payload, meta{ts: ts, transport: hepvault.TransportUDP,
			src: netip.AddrPortFrom(src, uint16(rd.udp.SrcPort)), dst: netip.AddrPortFrom(dst, uint16(rd.udp.DstPort))})
	case layers.IPProtocolTCP:
		if err := rd.tcp.DecodeFromBytes(payload, &rd.fb); err != nil || rd.fb {
			st.Skipped[rd.fb.reason()]++
			return
		}
		rd.segment(&rd.tcp, ts, netip.AddrPortFrom(src, uint16(rd.tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(rd.tcp.DstPort)))
	default:
		st.Skipped[ReasonNotUDPTCP]++
	}
}

func addr4(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap()
}

// message handles one UDP payload or one message cut from a TCP stream: HEP
// when it decodes as HEP, else SIP when it starts like SIP, else skipped.
func (rd *reader) message(b []byte, m meta) error {
	st := &rd.stats
	hepLike := len(b) >= 4 && string(b[:4]) == "HEP3"
	if hepLike || b[0] == 1 || b[0] == 2 {
		err := rd.dec.Decode(b, &rd.hp)
		switch {
		case err == nil:
			// As the collector: type 0 is "unset" in some agents.
			if rd.hp.ProtoType != hep.ProtoTypeSIP && rd.hp.ProtoType != 0 {
				st.Skipped[ReasonHEPNotSIP]++
				return nil
			}
			perr := sip.ParseWith(rd.hp.Payload, &rd.msg, rd.cfg.CorrelationHeaders)
			// HEPv1/v2 are told by one byte: in a capture of all kinds of
			// UDP, some other protocol can pass for them, but not with a
			// SIP start line inside.
			if rd.hp.Version < 3 && notStartLine(perr) {
				st.Skipped[ReasonNotSIP]++
				return nil
			}
			p := collector.Build(&rd.hp, &rd.msg, perr, m.ts, 0)
			st.FromHEP++
			return rd.emit(&p, perr)
		case hepLike:
			st.Skipped[ReasonBadHEP]++
			return nil
		}
		// A first byte of 1 or 2 that is no HEPv1/v2: not SIP either.
	}
	if onlyCRLF(b) {
		st.Skipped[ReasonKeepalive]++
		return nil
	}
	perr := sip.ParseWith(b, &rd.msg, rd.cfg.CorrelationHeaders)
	if notStartLine(perr) {
		st.Skipped[ReasonNotSIP]++
		return nil
	}
	// The collector's build path, with the envelope from the IP and
	// UDP/TCP headers: HEP version 0 says "not HEP", and TsSec 0 makes the
	// capture time the record's time.
	rd.hp = hep.Packet{
		Proto: uint8(m.transport), ProtoType: hep.ProtoTypeSIP,
		SrcIP: m.src.Addr(), SrcPort: m.src.Port(), DstIP: m.dst.Addr(), DstPort: m.dst.Port(),
		Payload: b,
	}
	p := collector.Build(&rd.hp, &rd.msg, perr, m.ts, 0)
	return rd.emit(&p, perr)
}

// emit gives p its final time and id and hands it over.
func (rd *reader) emit(p *hepvault.Packet, perr error) error {
	// Stored with microseconds: the id must be computed on what is stored.
	p.CapturedAt = p.CapturedAt.Truncate(time.Microsecond).UTC()
	p.ReceivedAt = p.ReceivedAt.Truncate(time.Microsecond).UTC()
	p.ID = rd.ids.id(p)
	rd.stats.Messages++
	if perr != nil {
		rd.stats.Invalid++
	}
	return rd.fn(*p)
}

// notStartLine reports whether sip.Parse failed before it found a start line.
func notStartLine(perr error) bool {
	return errors.Is(perr, sip.ErrStartLine) || errors.Is(perr, sip.ErrEmpty)
}

func onlyCRLF(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// feedback records gopacket's "truncated" signal.
type feedback bool

func (f *feedback) SetTruncated() { *f = true }

// reason is why a layer that failed to decode is skipped.
func (f feedback) reason() Reason {
	if f {
		return ReasonTruncated
	}
	return ReasonMalformed
}

// countingReader counts the bytes read from the file, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
