package store_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store"
	"github.com/jackc/pgx/v5"
)

// TestCopyBlocks_ChecksumAsSQL: the checksum the archive's copy takes from
// the binary stream is the one SQL reads from the stored blocks, and the
// stream comes out with the packets' element OID rewritten, the rest as
// it was.
func TestCopyBlocks_ChecksumAsSQL(t *testing.T) {
	db, dsn := openDSN(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var pkts []hepvault.Packet
	for i := range 300 {
		p := packet(at.Add(time.Duration(i)*50*time.Millisecond), hepvault.KindRequest, "INVITE", 0, "copy-"+string(rune('a'+i%26)))
		pkts = append(pkts, p)
	}
	write(t, db, pkts...)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var oid uint32
	var want struct {
		blocks, packets int64
		sum             string
	}
	if err := conn.QueryRow(ctx, `SELECT 'packet_v1'::regtype::oid`).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, store.BlockChecksumSQL+`packet_blocks_p20261125 b`).Scan(&want.blocks, &want.packets, &want.sum); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &in, `COPY (SELECT first_at, first_id, last_at, count, format, terms, packets FROM packet_blocks_p20261125) TO STDOUT (FORMAT binary)`); err != nil {
		t.Fatal(err)
	}
	orig := append([]byte(nil), in.Bytes()...)
	var out bytes.Buffer
	blocks, packets, sum, err := store.CopyBlocks(&out, &in, oid, oid+1000)
	if err != nil {
		t.Fatal(err)
	}
	if blocks != want.blocks || packets != want.packets || sum != want.sum || packets != int64(len(pkts)) {
		t.Fatalf("unexpected checksum of the stream; got %d blocks, %d packets, %s; want %d, %d (%d written), %s",
			blocks, packets, sum, want.blocks, want.packets, len(pkts), want.sum)
	}
	if out.Len() != len(orig) {
		t.Fatalf("unexpected stream length; got %d; want %d", out.Len(), len(orig))
	}
	diff := 0
	for i := range orig {
		if orig[i] != out.Bytes()[i] {
			diff++
		}
	}
	if diff == 0 || diff > 2*int(blocks) {
		t.Fatalf("unexpected bytes changed; got %d; want the OID's low bytes in each of %d blocks", diff, blocks)
	}
	if _, _, _, err := store.CopyBlocks(io.Discard, bytes.NewReader(orig), oid+1, oid); err == nil {
		t.Fatal("a stream of another element type was copied")
	}
}
