package store

import (
	"context"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Blocks are read and written on pgconn, below pgx's type map, with every
// parameter and result in PostgreSQL's binary format: a block's packets are
// a packet_v1[], a type pgx has no codec for, and blocks are decoded straight from the
// bytes the server sends (block.go).

// More built-in type OIDs (block.go has the scalar ones).
const (
	oidInt2Array        = 1005
	oidTextArray        = 1009
	oidInetArray        = 1041
	oidInt4Array        = 1007
	oidInt8Array        = 1016
	oidTimestamptzArray = 1185
)

// params collects the binary parameters of one statement.
type params struct {
	vals [][]byte
	oids []uint32
}

// add appends a parameter and returns its placeholder, cast to its type,
// which the statement then states whoever runs it.
func (p *params) add(oid uint32, v []byte) string {
	p.vals = append(p.vals, v)
	p.oids = append(p.oids, oid)
	return "$" + strconv.Itoa(len(p.vals)) + "::" + sqlTypes[oid]
}

var sqlTypes = map[uint32]string{
	oidBytea: "bytea", oidInt8: "int8", oidInt2: "int2", oidInt4: "int4", oidText: "text", oidInet: "inet",
	oidTimestamptz: "timestamptz", oidInt2Array: "int2[]", oidTextArray: "text[]", oidInetArray: "inet[]",
	oidInt4Array: "int4[]", oidInt8Array: "int8[]", oidTimestamptzArray: "timestamptz[]",
}

func (p *params) time(t time.Time) string {
	return p.add(oidTimestamptz, pgTime(nil, t))
}

func (p *params) int8(v int64) string {
	return p.add(oidInt8, binary.BigEndian.AppendUint64(nil, uint64(v)))
}

func (p *params) int8s(vs []int64) string {
	b := arrayHeader(make([]byte, 0, 20+12*len(vs)), oidInt8, len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return p.add(oidInt8Array, b)
}

func (p *params) int4s(vs []int32) string {
	return p.add(oidInt4Array, int4Array(nil, vs))
}

// int4Array appends vs as a binary int4[].
func int4Array(b []byte, vs []int32) []byte {
	b = arrayHeader(b, oidInt4, len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, 4)
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return b
}

func (p *params) times(ts []time.Time) string {
	b := arrayHeader(make([]byte, 0, 20+12*len(ts)), oidTimestamptz, len(ts))
	for _, t := range ts {
		b = binary.BigEndian.AppendUint32(b, 8)
		b = pgTime(b, t)
	}
	return p.add(oidTimestamptzArray, b)
}

// array adds an array parameter of elements already in binary.
func (p *params) array(elemOID, arrayOID uint32, elems [][]byte) string {
	n := 20
	for _, e := range elems {
		n += 4 + len(e)
	}
	b := arrayHeader(make([]byte, 0, n), elemOID, len(elems))
	for _, e := range elems {
		b = binary.BigEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return p.add(arrayOID, b)
}

// pgTime appends t as a binary timestamptz: microseconds since 2000.
func pgTime(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixMicro()-pgEpoch))
}

func fromPGTime(v []byte) (time.Time, bool) {
	if len(v) != 8 {
		return time.Time{}, false
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(v)) + pgEpoch).UTC(), true
}

// oneBinary, as the format codes of parameters or results, says all are
// in binary.
var oneBinary = []int16{1}

// each runs sql with p on conn and calls fn with each row's values in
// binary, which alias the connection's buffer until the next row. fn's
// error stops the query. PostgreSQL plans sql for the values in p.
func each(ctx context.Context, conn *pgconn.PgConn, sql string, p *params, fn func(vals [][]byte) error) error {
	return rows(conn.ExecParams(ctx, sql, p.vals, p.oids, oneBinary, oneBinary), fn)
}

func rows(rr *pgconn.ResultReader, fn func(vals [][]byte) error) error {
	var ferr error
	for ferr == nil && rr.NextRow() {
		ferr = fn(rr.Values())
	}
	_, err := rr.Close()
	if ferr != nil {
		return ferr
	}
	return err
}
