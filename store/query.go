package store

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/jackc/pgx/v5/pgtype"
)

// MaxLimit caps how many packets one query returns.
const MaxLimit = 10000

const selectColumns = `captured_at, id, received_at, capture_id, src_port, dst_port,
	hep_version, proto_type, transport, kind, status_code, src_ip, dst_ip, method, invalid_reason,
	correlation_id, request_uri, reason, call_id, cseq, cseq_method, from_uri, from_tag, to_uri, to_tag,
	via_branch, user_agent, contact, content_type, raw`

// Packets returns the packets f selects in (capture time, arrival) order, at
// most f.Limit of them, and whether more remain after the last one.
func (db *DB) Packets(ctx context.Context, f hepvault.Filter) ([]hepvault.Packet, bool, error) {
	if err := db.errNotReady(); err != nil {
		return nil, false, err
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	pkts, err := db.find(ctx, f, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(pkts) > limit
	if more {
		pkts = pkts[:limit]
	}
	return pkts, more, nil
}

// Call returns every packet of one Call-ID in order, up to MaxLimit.
func (db *DB) Call(ctx context.Context, callID string) ([]hepvault.Packet, error) {
	pkts, _, err := db.Packets(ctx, hepvault.Filter{CallID: callID, Limit: MaxLimit})
	return pkts, err
}

// find returns up to n packets that f selects, in order. A Call-ID filter
// matches the call hash in SQL; a packet of another Call-ID with the same
// hash (rare: 64 bits) is dropped here, and the search goes on after it so
// that n packets come back when n exist.
func (db *DB) find(ctx context.Context, f hepvault.Filter, n int) ([]hepvault.Packet, error) {
	var out []hepvault.Packet
	for {
		var q query
		q.where(f)
		want := n - len(out)
		sql := `SELECT ` + selectColumns + ` FROM packets` + q.clause() +
			` ORDER BY captured_at, id LIMIT ` + strconv.Itoa(want)
		pkts, err := db.collect(ctx, sql, q.args, want)
		if err != nil {
			return nil, err
		}
		if f.CallID == "" {
			return pkts, nil
		}
		fetched := len(pkts)
		var last hepvault.Position
		if fetched > 0 {
			last = hepvault.Position{CapturedAt: pkts[fetched-1].CapturedAt, ID: pkts[fetched-1].ID}
		}
		pkts = slices.DeleteFunc(pkts, func(p hepvault.Packet) bool { return p.CallID != f.CallID })
		out = append(out, pkts...)
		if fetched < want || len(pkts) == fetched {
			return out, nil
		}
		f.After = &last
	}
}

// query builds a WHERE clause whose values all travel as parameters.
type query struct {
	conds []string
	args  []any
}

func (q *query) add(cond string, vals ...any) {
	for _, v := range vals {
		q.args = append(q.args, v)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(q.args)), 1)
	}
	q.conds = append(q.conds, cond)
}

func (q *query) where(f hepvault.Filter) {
	if !f.From.IsZero() {
		q.add("captured_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q.add("captured_at < ?", f.To)
	}
	if f.After != nil {
		q.add("(captured_at, id) > (?, ?)", f.After.CapturedAt, f.After.ID)
	}
	if f.Kind != nil {
		q.add("kind = ?", int16(*f.Kind))
	}
	if f.Method != "" {
		q.add("method = ?", f.Method)
	}
	if f.Status != 0 {
		q.add("status_code = ?", int16(f.Status))
	}
	if f.CallID != "" {
		q.add("call_hash = ?", CallHash(f.CallID))
	}
	if f.SrcIP.IsValid() {
		q.add("src_ip = ?", f.SrcIP)
	}
	if f.DstIP.IsValid() {
		q.add("dst_ip = ?", f.DstIP)
	}
	if f.CaptureID != nil {
		q.add("capture_id = ?", int64(*f.CaptureID))
	}
}

func (q *query) clause() string {
	if len(q.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.conds, " AND ")
}

func (db *DB) collect(ctx context.Context, sql string, args []any, n int) ([]hepvault.Packet, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError("query packets", err)
	}
	defer rows.Close()
	// One set of scan targets for every row: values passed to Scan escape,
	// so fresh ones per row would cost ~30 allocations each.
	var r rowScan
	dst := r.targets()
	pkts := make([]hepvault.Packet, 0, initialCap(n))
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return nil, interpretError("read packets", err)
		}
		pkts = append(pkts, hepvault.Packet{})
		r.fill(&pkts[len(pkts)-1])
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError("read packets", err)
	}
	return pkts, nil
}

// initialCap sizes the result for a page of up to a few hundred packets;
// a larger limit (a call: up to MaxLimit, usually ~10) starts small and grows.
func initialCap(n int) int {
	if n <= 512 {
		return n
	}
	return 16
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
