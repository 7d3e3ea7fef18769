package store

import (
	"context"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Databases made before migration 0005 hold a row per packet in the packets
// table. convertLegacy moves those rows into blocks, a chunk per
// transaction (rows leave packets as their blocks arrive, so a stop half way
// resumes where it was), then drops the table.

const legacyChunk = 20000

const legacyColumns = `captured_at, id, received_at, capture_id, src_port, dst_port,
	hep_version, proto_type, transport, kind, status_code, src_ip, dst_ip, method, invalid_reason,
	correlation_id, request_uri, reason, call_id, cseq, cseq_method, from_uri, from_tag, to_uri, to_tag,
	via_branch, user_agent, contact, content_type, raw`

func (db *DB) convertLegacy(ctx context.Context) error {
	var exists bool
	err := db.pool.QueryRow(ctx, `SELECT to_regclass('packets') IS NOT NULL AND to_regclass('packet_blocks') IS NOT NULL`).Scan(&exists)
	if err != nil {
		return interpretError("migrate: look for packets", err)
	}
	if !exists {
		return nil
	}
	w := NewWriter(db, DefaultWriterConfig())
	moved := 0
	for {
		pkts, err := db.legacyRows(ctx, `SELECT `+legacyColumns+` FROM packets ORDER BY captured_at, id LIMIT `+strconv.Itoa(legacyChunk))
		if err != nil {
			return err
		}
		if len(pkts) == 0 {
			break
		}
		if err := w.ensurePartitions(ctx, time.Now(), pkts); err != nil {
			return err
		}
		last := pkts[len(pkts)-1]
		err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := w.insertBlocks(ctx, tx, pkts); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM packets WHERE (captured_at, id) <= ($1, $2)`, last.CapturedAt, last.ID)
			return err
		})
		if err != nil {
			return interpretError("migrate: move packets into blocks", err)
		}
		moved += len(pkts)
		db.log.Info("migration: packets moved into blocks", "packets", moved)
	}
	if _, err := db.pool.Exec(ctx, `DROP TABLE packets`); err != nil {
		return interpretError("migrate: drop packets", err)
	}
	return nil
}

func (db *DB) legacyRows(ctx context.Context, sql string) ([]hepvault.Packet, error) {
	rows, err := db.pool.Query(ctx, sql)
	if err != nil {
		return nil, interpretError("migrate: read packets", err)
	}
	defer rows.Close()
	var r rowScan
	dst := r.targets()
	var pkts []hepvault.Packet
	for rows.Next() {
		r.raw = nil // a fresh slice per row: the packet keeps it
		if err := rows.Scan(dst...); err != nil {
			return nil, interpretError("migrate: read packets", err)
		}
		pkts = append(pkts, hepvault.Packet{})
		r.fill(&pkts[len(pkts)-1])
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError("migrate: read packets", err)
	}
	return pkts, nil
}

// headerColumns are the header fields as stored: NULL (not Valid) for
// "parse raw". Value types rather than pointers: pgx allocates a pointer
// target for every non-NULL value.
type headerColumns struct {
	requestURI, reason, callID, cseqMethod, fromURI, fromTag pgtype.Text
	toURI, toTag, via, userAgent, contact, contentType       pgtype.Text
	cseq                                                     pgtype.Int8
}

// rowScan holds one row of selectColumns as pgx scans it.
type rowScan struct {
	capturedAt, receivedAt           time.Time
	id, captureID                    int64
	hepVersion, protoType, transport int16
	kind                             int16
	status                           pgtype.Int2
	srcPort, dstPort                 int32
	srcIP, dstIP                     netip.Addr
	invalid, method, corr            pgtype.Text
	h                                headerColumns
	raw                              []byte
	msg                              sip.Message
}

// targets returns the scan destinations in selectColumns order.
func (r *rowScan) targets() []any {
	h := &r.h
	return []any{&r.capturedAt, &r.id, &r.receivedAt, &r.captureID, &r.srcPort, &r.dstPort,
		&r.hepVersion, &r.protoType, &r.transport, &r.kind, &r.status, &r.srcIP, &r.dstIP, &r.method, &r.invalid,
		&r.corr, &h.requestURI, &h.reason, &h.callID, &h.cseq, &h.cseqMethod, &h.fromURI, &h.fromTag, &h.toURI, &h.toTag,
		&h.via, &h.userAgent, &h.contact, &h.contentType, &r.raw}
}

// fill sets p from the row last scanned. p.Raw takes over the scanned bytes.
func (r *rowScan) fill(p *hepvault.Packet) {
	p.CapturedAt, p.ID, p.ReceivedAt = r.capturedAt.UTC(), r.id, r.receivedAt.UTC()
	p.CaptureID = uint32(r.captureID)
	p.HEPVersion, p.ProtoType, p.Transport = uint8(r.hepVersion), uint8(r.protoType), hepvault.Transport(r.transport)
	p.SrcIP, p.SrcPort, p.DstIP, p.DstPort = r.srcIP, uint16(r.srcPort), r.dstIP, uint16(r.dstPort)
	p.Kind = hepvault.Kind(r.kind)
	if r.status.Valid {
		p.StatusCode = int(r.status.Int16)
	}
	p.InvalidReason, p.Method, p.CorrelationID = str(r.invalid), str(r.method), str(r.corr)
	p.Raw = r.raw
	r.raw = nil // pgx would otherwise write the next row into p.Raw
	fillHeaders(p, &r.msg, &r.h)
}

// fillHeaders sets the header fields of p: the stored value where there is
// one, otherwise what parsing p.Raw gives, as the collector parsed it when
// the packet arrived. The parsed strings share one copy of raw.
func fillHeaders(p *hepvault.Packet, m *sip.Message, h *headerColumns) {
	sip.Parse(p.Raw, m) // an invalid message still yields what was read before the error
	raw := string(p.Raw)
	field := func(stored pgtype.Text, parsed []byte) string {
		if stored.Valid {
			return stored.String
		}
		return cleanText(substring(raw, p.Raw, parsed))
	}
	p.RequestURI, p.Reason = field(h.requestURI, m.RequestURI), field(h.reason, m.Reason)
	p.CallID, p.CSeqMethod = field(h.callID, m.CallID), field(h.cseqMethod, m.CSeqMethod)
	p.FromURI, p.FromTag = field(h.fromURI, m.FromURI), field(h.fromTag, m.FromTag)
	p.ToURI, p.ToTag, p.ViaBranch = field(h.toURI, m.ToURI), field(h.toTag, m.ToTag), field(h.via, m.ViaBranch)
	p.UserAgent, p.Contact = field(h.userAgent, m.UserAgent), field(h.contact, m.Contact)
	p.ContentType = field(h.contentType, m.ContentType)
	if h.cseq.Valid {
		p.CSeq = uint32(h.cseq.Int64)
	} else {
		p.CSeq = effectiveCSeq(m.CSeqNum, string(m.CSeqMethod))
	}
	// Nothing stored: every field came from parsing Raw, as when the
	// collector built the packet, so writing it again needs no check.
	p.HeadersFromRaw = !h.anyStored()
}

func (h *headerColumns) anyStored() bool {
	for _, t := range [...]pgtype.Text{h.requestURI, h.reason, h.callID, h.cseqMethod, h.fromURI, h.fromTag,
		h.toURI, h.toTag, h.via, h.userAgent, h.contact, h.contentType} {
		if t.Valid {
			return true
		}
	}
	return h.cseq.Valid
}

// substring returns b, a slice of orig, as the same bytes of s (a string
// copy of orig) without copying; b outside orig (a folded header the parser
// joined in its own buffer) is copied.
func substring(s string, orig, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(orig)))
	if start < uintptr(len(orig)) && start+uintptr(len(b)) <= uintptr(len(orig)) {
		return s[start : start+uintptr(len(b))]
	}
	return string(b)
}

// str reads a nullable text column: NULL is stored for "".
func str(s pgtype.Text) string { return s.String }
