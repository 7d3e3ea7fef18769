package store

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/seed"
	"github.com/jackc/pgx/v5"
)

// variantColumn is one column a layout variant may have: its SQL type and
// what it holds for a packet.
type variantColumn struct {
	typ string
	val func(p *hepvault.Packet) any
}

var variantColumns = map[string]variantColumn{
	"captured_at":    {"timestamptz NOT NULL", func(p *hepvault.Packet) any { return p.CapturedAt }},
	"id":             {"bigint NOT NULL", func(p *hepvault.Packet) any { return p.ID }},
	"received_at":    {"timestamptz NOT NULL", func(p *hepvault.Packet) any { return p.ReceivedAt }},
	"call_hash":      {"bigint", func(p *hepvault.Packet) any { return CallHash(p.CallID) }},
	"capture_id":     {"bigint NOT NULL", func(p *hepvault.Packet) any { return int64(p.CaptureID) }},
	"hep_version":    {"smallint NOT NULL", func(p *hepvault.Packet) any { return int16(p.HEPVersion) }},
	"proto_type":     {"smallint NOT NULL", func(p *hepvault.Packet) any { return int16(p.ProtoType) }},
	"transport":      {"smallint NOT NULL", func(p *hepvault.Packet) any { return int16(p.Transport) }},
	"src_ip":         {"inet NOT NULL", func(p *hepvault.Packet) any { return p.SrcIP }},
	"src_port":       {"integer NOT NULL", func(p *hepvault.Packet) any { return int32(p.SrcPort) }},
	"dst_ip":         {"inet NOT NULL", func(p *hepvault.Packet) any { return p.DstIP }},
	"dst_port":       {"integer NOT NULL", func(p *hepvault.Packet) any { return int32(p.DstPort) }},
	"kind":           {"smallint NOT NULL", func(p *hepvault.Packet) any { return int16(p.Kind) }},
	"invalid_reason": {"text", func(p *hepvault.Packet) any { return text(p.InvalidReason) }},
	"method":         {"text", func(p *hepvault.Packet) any { return text(p.Method) }},
	"request_uri":    {"text", func(p *hepvault.Packet) any { return text(p.RequestURI) }},
	"status_code": {"smallint", func(p *hepvault.Packet) any {
		if p.StatusCode == 0 {
			return nil
		}
		return int16(p.StatusCode)
	}},
	"reason":  {"text", func(p *hepvault.Packet) any { return text(p.Reason) }},
	"call_id": {"text", func(p *hepvault.Packet) any { return text(p.CallID) }},
	"cseq": {"bigint", func(p *hepvault.Packet) any {
		if p.CSeqMethod == "" {
			return nil
		}
		return int64(p.CSeq)
	}},
	"cseq_method":    {"text", func(p *hepvault.Packet) any { return text(p.CSeqMethod) }},
	"from_uri":       {"text", func(p *hepvault.Packet) any { return text(p.FromURI) }},
	"from_tag":       {"text", func(p *hepvault.Packet) any { return text(p.FromTag) }},
	"to_uri":         {"text", func(p *hepvault.Packet) any { return text(p.ToURI) }},
	"to_tag":         {"text", func(p *hepvault.Packet) any { return text(p.ToTag) }},
	"via_branch":     {"text", func(p *hepvault.Packet) any { return text(p.ViaBranch) }},
	"user_agent":     {"text", func(p *hepvault.Packet) any { return text(p.UserAgent) }},
	"contact":        {"text", func(p *hepvault.Packet) any { return text(p.Contact) }},
	"content_type":   {"text", func(p *hepvault.Packet) any { return text(p.ContentType) }},
	"correlation_id": {"text", func(p *hepvault.Packet) any { return text(p.CorrelationID) }},
	"raw":            {"bytea NOT NULL", func(p *hepvault.Packet) any { return p.Raw }},
	// The compact layout's header columns: NULL, parsed from raw on read.
	"null_text": {"text", func(*hepvault.Packet) any { return nil }},
}

const (
	mainColumns = "captured_at id received_at capture_id hep_version proto_type transport src_ip src_port dst_ip dst_port " +
		"kind invalid_reason method request_uri status_code reason call_id cseq cseq_method from_uri from_tag to_uri " +
		"to_tag via_branch user_agent contact content_type correlation_id raw"
	// main without the header fields that raw gives (call_id kept for its index)
	mainDerivedDropped = "captured_at id received_at capture_id hep_version proto_type transport src_ip src_port dst_ip " +
		"dst_port kind invalid_reason method status_code call_id correlation_id raw"
	compactColumns = "captured_at id received_at call_hash capture_id src_port dst_port hep_version proto_type transport " +
		"kind status_code src_ip dst_ip method invalid_reason correlation_id " + nullHeaders + " raw"
	// the same columns in main's order: 2-byte columns between 8-byte ones
	compactMisaligned = "captured_at id received_at capture_id hep_version proto_type transport src_ip src_port dst_ip " +
		"dst_port kind invalid_reason method status_code call_hash " + nullHeaders + " correlation_id raw"
	nullHeaders = "null_text null_text null_text null_text null_text null_text null_text null_text null_text null_text null_text null_text null_text"
)

type layoutVariant struct {
	name    string
	columns string
	after   []string // DDL run on table t after it is made
}

// TestStorageVariants measures bytes per packet of table layouts and
// indexes, each change alone, for BENCHMARKS.md. It only runs when
// HEPVAULT_FOOTPRINT_VARIANTS is a packet count:
//
//	HEPVAULT_FOOTPRINT_VARIANTS=200000 go test ./store -run TestStorageVariants -v
func TestStorageVariants(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HEPVAULT_FOOTPRINT_VARIANTS"))
	if n <= 0 {
		t.Skip("set HEPVAULT_FOOTPRINT_VARIANTS to a packet count to measure layout variants")
	}
	db, conn := openRaw(t)
	_ = db
	ctx := context.Background()
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	pkts := seed.New(seed.Config{Start: start, Rate: 1000, Seed: 42}).Packets(n)

	unique := "CREATE UNIQUE INDEX ON t (captured_at, id)"
	variants := []layoutVariant{
		{"main (0001+0002): all columns, (captured_at,id) + (call_id,captured_at,id)", mainColumns,
			[]string{unique, "CREATE INDEX ON t (call_id, captured_at, id)"}},
		{"main, heap only (no index)", mainColumns, nil},
		{"main without header columns raw gives", mainDerivedDropped,
			[]string{unique, "CREATE INDEX ON t (call_id, captured_at, id)"}},
		{"main, call index on (call_hash, captured_at, id)", mainColumns + " call_hash",
			[]string{unique, "CREATE INDEX ON t (call_hash, captured_at, id)"}},
		{"main, call index on (call_hash), deduplicated", mainColumns + " call_hash",
			[]string{unique, "CREATE INDEX ON t (call_hash)"}},
		{"compact (0004) misaligned column order", compactMisaligned,
			[]string{unique, "CREATE INDEX ON t (call_hash) WHERE call_hash IS NOT NULL"}},
		{"compact (0004)", compactColumns,
			[]string{unique, "CREATE INDEX ON t (call_hash) WHERE call_hash IS NOT NULL"}},
		{"compact, heap only (no index)", compactColumns, nil},
		{"compact, only (captured_at,id)", compactColumns, []string{unique}},
		{"compact, (captured_at,id) fillfactor 100", compactColumns,
			[]string{"CREATE UNIQUE INDEX ON t (captured_at, id) WITH (fillfactor = 100)"}},
		{"compact, only (call_hash, captured_at, id)", compactColumns, []string{"CREATE INDEX ON t (call_hash, captured_at, id)"}},
		{"compact, only (call_hash)", compactColumns, []string{"CREATE INDEX ON t (call_hash) WHERE call_hash IS NOT NULL"}},
		{"compact, raw lz4, toast_tuple_target 128, storage main", compactColumns, []string{
			"ALTER TABLE t SET (toast_tuple_target = 128)", "ALTER TABLE t ALTER raw SET STORAGE MAIN",
			"ALTER TABLE t ALTER raw SET COMPRESSION lz4"}},
	}
	for _, v := range variants {
		heap, idx, total := measureVariant(t, ctx, conn, v, pkts)
		fmt.Printf("| %s | %.0f | %.0f | %.0f |\n", v.name, heap, idx, total)
	}
}

func measureVariant(t *testing.T, ctx context.Context, conn *pgx.Conn, v layoutVariant, pkts []hepvault.Packet) (heap, idx, total float64) {
	t.Helper()
	cols := strings.Fields(v.columns)
	var defs, names []string
	for i, c := range cols {
		name := c
		if c == "null_text" {
			name = fmt.Sprintf("h%d", i)
		}
		names = append(names, name)
		defs = append(defs, name+" "+variantColumns[c].typ)
	}
	mustExec := func(sql string) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec("DROP TABLE IF EXISTS t")
	mustExec("CREATE TABLE t (" + strings.Join(defs, ", ") + ")")
	// Indexes first, so that they grow as ingest grows them.
	for _, s := range v.after {
		mustExec(s)
	}
	const batch = 2000
	for i := 0; i < len(pkts); i += batch {
		rows := pkts[i:min(i+batch, len(pkts))]
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"t"}, names, pgx.CopyFromSlice(len(rows), func(j int) ([]any, error) {
			vals := make([]any, len(cols))
			for k, c := range cols {
				vals[k] = variantColumns[c].val(&rows[j])
			}
			return vals, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
	}
	mustExec("VACUUM ANALYZE t")
	var h, x, a int64
	err := conn.QueryRow(ctx, `SELECT pg_relation_size('t') + coalesce(pg_total_relation_size(reltoastrelid), 0),
		pg_indexes_size('t'), pg_total_relation_size('t') FROM pg_class WHERE oid = 't'::regclass`).Scan(&h, &x, &a)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(len(pkts))
	return float64(h) / n, float64(x) / n, float64(a) / n
}
