package store

import (
	"context"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// MaxLimit caps how many packets one query returns.
const MaxLimit = 10000

const selectColumns = `captured_at, id, received_at, capture_id, hep_version, proto_type, transport,
	src_ip, src_port, dst_ip, dst_port, kind, invalid_reason, method, request_uri, status_code, reason,
	call_id, cseq, cseq_method, from_uri, from_tag, to_uri, to_tag, via_branch, user_agent, contact,
	content_type, correlation_id, raw`

// Packets returns the packets f selects in (capture time, arrival) order, at
// most f.Limit of them, and whether more remain after the last one.
func (db *DB) Packets(ctx context.Context, f hepvault.Filter) ([]hepvault.Packet, bool, error) {
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	var q query
	q.where(f)
	sql := `SELECT ` + selectColumns + ` FROM packets` + q.clause() +
		` ORDER BY captured_at, id LIMIT ` + strconv.Itoa(limit+1)
	pkts, err := db.collect(ctx, sql, q.args)
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
		q.add("call_id = ?", f.CallID)
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

func (db *DB) collect(ctx context.Context, sql string, args []any) ([]hepvault.Packet, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError("query packets", err)
	}
	pkts, err := pgx.CollectRows(rows, scanPacket)
	if err != nil {
		return nil, interpretError("read packets", err)
	}
	return pkts, nil
}

func scanPacket(row pgx.CollectableRow) (hepvault.Packet, error) {
	var (
		p                                    hepvault.Packet
		captureID, cseq                      *int64
		hepVersion, protoType, transport     int16
		kind                                 int16
		status                               *int16
		srcPort, dstPort                     int32
		srcIP, dstIP                         netip.Addr
		invalid, method, ruri, reason        *string
		callID, cseqMethod, fromURI, fromTag *string
		toURI, toTag, via, ua, contact, ct   *string
		corr                                 *string
	)
	err := row.Scan(&p.CapturedAt, &p.ID, &p.ReceivedAt, &captureID, &hepVersion, &protoType, &transport,
		&srcIP, &srcPort, &dstIP, &dstPort, &kind, &invalid, &method, &ruri, &status, &reason,
		&callID, &cseq, &cseqMethod, &fromURI, &fromTag, &toURI, &toTag, &via, &ua, &contact,
		&ct, &corr, &p.Raw)
	if err != nil {
		return p, err
	}
	p.CapturedAt = p.CapturedAt.UTC()
	p.ReceivedAt = p.ReceivedAt.UTC()
	if captureID != nil {
		p.CaptureID = uint32(*captureID)
	}
	p.HEPVersion, p.ProtoType, p.Transport = uint8(hepVersion), uint8(protoType), hepvault.Transport(transport)
	p.SrcIP, p.SrcPort, p.DstIP, p.DstPort = srcIP, uint16(srcPort), dstIP, uint16(dstPort)
	p.Kind = hepvault.Kind(kind)
	if status != nil {
		p.StatusCode = int(*status)
	}
	if cseq != nil {
		p.CSeq = uint32(*cseq)
	}
	p.InvalidReason, p.Method, p.RequestURI, p.Reason = str(invalid), str(method), str(ruri), str(reason)
	p.CallID, p.CSeqMethod, p.FromURI, p.FromTag = str(callID), str(cseqMethod), str(fromURI), str(fromTag)
	p.ToURI, p.ToTag, p.ViaBranch, p.UserAgent = str(toURI), str(toTag), str(via), str(ua)
	p.Contact, p.ContentType, p.CorrelationID = str(contact), str(ct), str(corr)
	return p, nil
}

// str reads a nullable text column: NULL is stored for "".
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
