package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/store"
	"github.com/hepvault/hepvault/store/storetest"
	"github.com/jackc/pgx/v5"
)

// fixturePackets are the packets of the Kamailio HEPv3 capture as the
// collector stores them, all captured on 2026-11-25 (UTC).
func fixturePackets(t testing.TB) []hepvault.Packet {
	t.Helper()
	var (
		dec hep.Decoder
		hp  hep.Packet
		m   sip.Message
	)
	var out []hepvault.Packet
	for i, r := range fixture.Load(t, fixture.HEP3) {
		if err := dec.Decode(r.Datagram, &hp); err != nil {
			t.Fatal(err)
		}
		perr := sip.Parse(hp.Payload, &m)
		p := collector.Build(&hp, &m, perr, hp.Time().Add(time.Millisecond), int64(i+1))
		p.Raw = slices.Clone(p.Raw)
		out = append(out, p)
	}
	return out
}

var fixtureDay = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// sealedStore is a store holding the fixture's packets, their day sealed.
func sealedStore(t *testing.T, key ed25519.PrivateKey) (*store.DB, *pgx.Conn, []hepvault.Packet) {
	t.Helper()
	db, dsn := openDSN(t)
	pkts := fixturePackets(t)
	write(t, db, pkts...)
	seals, err := db.SealDays(context.Background(), time.Now(), store.SealConfig{After: time.Hour, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if len(seals) != 1 || !seals[0].Day.Equal(fixtureDay) || seals[0].Count != int64(len(pkts)) || seals[0].Addendum != 0 {
		t.Fatalf("unexpected seals; got %+v; want one of %s with %d packets", seals, fixtureDay, len(pkts))
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return db, conn, pkts
}

func verify(t *testing.T, db *store.DB, opt store.VerifyOptions) *store.VerifyReport {
	t.Helper()
	rep, err := db.Verify(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	tag, err := conn.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if tag.RowsAffected() == 0 && !strings.HasPrefix(sql, "DROP") && !strings.HasPrefix(sql, "CREATE") && !strings.HasPrefix(sql, "ALTER") {
		t.Fatalf("%s: changed nothing", sql)
	}
}

func TestSeal_UntouchedVerifies(t *testing.T) {
	db, _, pkts := sealedStore(t, nil)
	rep := verify(t, db, store.VerifyOptions{})
	if !rep.OK() || rep.Packets != int64(len(pkts)) || rep.SealedDays != 1 {
		t.Fatalf("unexpected report of an untouched store; got %+v; want no difference, %d packets, 1 sealed day", rep, len(pkts))
	}
	// Sealing again makes nothing: the day is sealed and nothing is late.
	again, err := db.SealDays(context.Background(), time.Now(), store.SealConfig{})
	if err != nil || len(again) != 0 {
		t.Fatalf("unexpected second sealing; got %+v, %v; want none", again, err)
	}
}

// withoutImages drops packets_image, as for a role that could not make it,
// and opens the store again (a DB looks for the function once).
func withoutImages(t *testing.T, conn *pgx.Conn) *store.DB {
	t.Helper()
	exec(t, conn, `DROP FUNCTION packets_image(packet_v1[])`)
	cfg := store.DefaultConfig()
	cfg.DSN = conn.Config().ConnString()
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Each tampering through SQL is named by verify, whether it reads the
// blocks' images (packets_image, made when hepvault's role is a superuser)
// or PostgreSQL's binary output (a role that could not make it).
func TestVerify_Tampering(t *testing.T) {
	// The block holding the fixture's 10th packet, and that packet's place.
	const target = `(SELECT first_at FROM packet_blocks ORDER BY first_at, first_id LIMIT 1)`
	f := func(name string, want store.DiffKind, wantDetail string, tamper func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet)) {
		for _, images := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/images=%v", name, images), func(t *testing.T) {
				t.Parallel()
				db, conn, pkts := sealedStore(t, nil)
				tamper(t, conn, pkts)
				if !images {
					db = withoutImages(t, conn)
				}
				rep := verify(t, db, store.VerifyOptions{})
				if rep.OK() {
					t.Fatalf("verify found nothing after %s", name)
				}
				first := rep.Differences[0]
				if first.Kind != want || !strings.Contains(first.Detail, wantDetail) {
					t.Fatalf("unexpected first difference; got %v (all: %v); want %q naming %q", first, rep.Differences, want, wantDetail)
				}
			})
		}
	}
	t.Run("nothing/images in another layout", func(t *testing.T) {
		// As a big-endian server's images would be: the probe's element
		// OID does not read back, and verify reads the binary output.
		_, conn, pkts := sealedStore(t, nil)
		exec(t, conn, `CREATE OR REPLACE FUNCTION packets_image(packet_v1[]) RETURNS bytea LANGUAGE sql AS $$ SELECT '\x01000000000000000000000000'::bytea $$`)
		cfg := store.DefaultConfig()
		cfg.DSN = conn.Config().ConnString()
		db, err := store.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if rep := verify(t, db, store.VerifyOptions{}); !rep.OK() || rep.Packets != int64(len(pkts)) {
			t.Fatalf("unexpected report of an untouched store with images of another layout; got %+v", rep)
		}
	})
	t.Run("nothing/images=false", func(t *testing.T) {
		_, conn, pkts := sealedStore(t, nil)
		if rep := verify(t, withoutImages(t, conn), store.VerifyOptions{}); !rep.OK() || rep.Packets != int64(len(pkts)) {
			t.Fatalf("unexpected report of an untouched store read through the binary output; got %+v", rep)
		}
	})
	f("a byte of a payload", store.DiffPacketChanged, "packet 2 of", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE packet_blocks SET packets[2].raw = overlay(packets[2].raw placing 'X' from 1 for 1) WHERE first_at = `+target)
	})
	// A value read from a column kept compressed in line (STORAGE MAIN)
	// goes into the composite as it is: compressed.
	for _, method := range []string{"pglz", "lz4"} {
		f("a payload kept compressed ("+method+") inside the packet", store.DiffPacketChanged, "packet 2 of", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
			exec(t, conn, `CREATE TABLE big (x bytea)`)
			exec(t, conn, `ALTER TABLE big ALTER x SET STORAGE MAIN, ALTER x SET COMPRESSION `+method)
			exec(t, conn, `INSERT INTO big SELECT convert_to(repeat('INVITE sip:x@y SIP/2.0 ', 400) || md5('x'), 'UTF8')`)
			var c string
			if err := conn.QueryRow(context.Background(), `SELECT pg_column_compression(x) FROM big`).Scan(&c); err != nil || c != method {
				t.Fatalf("the value is not kept compressed with %s: %q, %v", method, c, err)
			}
			exec(t, conn, `UPDATE packet_blocks SET packets[2].raw = (SELECT x FROM big) WHERE first_at = `+target)
		})
	}
	// Values no encoder writes: verify names the block and goes on.
	f("a packet made NULL", store.DiffUnreadableBlock, "block (", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE packet_blocks SET packets[2] = NULL WHERE first_at = `+target)
	})
	f("a port out of its range", store.DiffUnreadableBlock, "block (", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE packet_blocks SET packets[2].src_port = 70000 WHERE first_at = `+target)
	})
	t.Run("a packet made NULL/only that block", func(t *testing.T) {
		t.Parallel()
		db, conn, pkts := sealedStore(t, nil)
		var n int64
		if err := conn.QueryRow(context.Background(), `SELECT count FROM packet_blocks WHERE first_at = `+target).Scan(&n); err != nil {
			t.Fatal(err)
		}
		exec(t, conn, `UPDATE packet_blocks SET packets[2] = NULL WHERE first_at = `+target)
		rep := verify(t, db, store.VerifyOptions{})
		if len(rep.Differences) != 1 || rep.Packets != int64(len(pkts))-n {
			t.Fatalf("unexpected report; got %d packets read and %v; want the other blocks' %d packets and the block named once",
				rep.Packets, rep.Differences, int64(len(pkts))-n)
		}
	})
	f("a method", store.DiffPacketChanged, "packet 3 of", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE packet_blocks SET packets[3].method = 'BYE' WHERE first_at = `+target)
	})
	f("a packet deleted from a block", store.DiffPacketDeleted, "packet 2 (leaf", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE packet_blocks SET packets = packets[1:1] || packets[3:], count = count - 1 WHERE first_at = `+target)
	})
	f("a packet added to a block", store.DiffPacketAdded, "id 999999", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE packet_blocks SET packets = packets[1:4] || (SELECT p FROM (SELECT (packets[4]).*) p0,
			LATERAL (SELECT ROW(p0.captured_at, 999999, p0.received_at, p0.capture_id, p0.hep_version, p0.proto_type,
			p0.correlation_id, p0.src_ip, p0.src_port, p0.dst_ip, p0.dst_port, p0.transport, p0.kind, p0.invalid_reason,
			p0.method, p0.request_uri, p0.status_code, p0.reason, p0.call_id, p0.cseq, p0.cseq_method, p0.from_uri,
			p0.from_tag, p0.from_user, p0.to_uri, p0.to_tag, p0.to_user, p0.ruri_user, p0.pai_user, p0.via_branch,
			p0.user_agent, p0.contact, p0.content_type, p0.raw, p0.correlation_header)::packet_v1 AS p) x) || packets[5:], count = count + 1
			WHERE first_at = `+target)
	})
	f("a block added to a sealed day", store.DiffUnsealed, "first id 777777", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `INSERT INTO packet_blocks (first_at, first_id, last_at, count, format, terms, packets)
			SELECT first_at, 777777, first_at, 1, format, terms, ARRAY[ROW((packets[1]).captured_at, 777777, (packets[1]).received_at,
			4242, 3, 1, NULL, '10.0.0.9', 5060, '10.0.0.8', 5060, 17, 1, NULL, 'INVITE', 'sip:x@y', NULL, NULL, 'forged',
			1, 'INVITE', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'INVITE sip:x@y SIP/2.0'::bytea, NULL)::packet_v1]
			FROM packet_blocks ORDER BY first_at LIMIT 1`)
	})
	f("a whole block deleted", store.DiffBlockDeleted, "are gone", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `DELETE FROM packet_blocks WHERE first_at = `+target)
	})
	f("the day's partition dropped", store.DiffDayMissing, "packet_blocks_p20261125 is gone", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `DROP TABLE packet_blocks_p20261125`)
	})
	f("a seal's count", store.DiffSealAltered, "the seal says", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE seals SET count = count + 1`)
	})
	f("a seal's root", store.DiffSealAltered, "the seal says", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `UPDATE seals SET root = sha256(root)`)
	})
	f("a seal deleted", store.DiffSealMissing, "does not have", func(t *testing.T, conn *pgx.Conn, pkts []hepvault.Packet) {
		exec(t, conn, `DELETE FROM seals`)
	})
}

// A packet changed and its seal recomputed to match, inside the database,
// is caught by the statement exported before.
func TestVerify_Statements(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	db, conn, _ := sealedStore(t, priv)
	ctx := context.Background()
	seals, err := db.Seals(ctx, time.Time{}, time.Time{})
	if err != nil || len(seals) != 1 {
		t.Fatalf("unexpected seals; got %+v, %v", seals, err)
	}
	if err := seals[0].CheckSignature(priv.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("unexpected signature check of a fresh seal: %v", err)
	}
	line, err := json.Marshal(seals[0])
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := store.ReadStatements(strings.NewReader(string(line) + "\n"))
	if err != nil || len(stmts) != 1 {
		t.Fatalf("unexpected statements read back from %s; got %+v, %v", line, stmts, err)
	}
	if rep := verify(t, db, store.VerifyOptions{Statements: stmts, PublicKey: priv.Public().(ed25519.PublicKey)}); !rep.OK() {
		t.Fatalf("unexpected differences against the store's own statement: %v", rep.Differences)
	}

	f := func(name string, want store.DiffKind, edit func(s *store.Seal)) {
		t.Run(name, func(t *testing.T) {
			s := stmts[0]
			s.Signature = slices.Clone(s.Signature)
			edit(&s)
			rep := verify(t, db, store.VerifyOptions{Statements: []store.Seal{s}})
			if rep.OK() || !slices.ContainsFunc(rep.Differences, func(d store.Difference) bool { return d.Kind == want }) {
				t.Fatalf("unexpected differences; got %v; want one of kind %q", rep.Differences, want)
			}
		})
	}
	f("another root", store.DiffStatement, func(s *store.Seal) { s.Root[0] ^= 1 })
	f("another count", store.DiffStatement, func(s *store.Seal) { s.Count-- })
	f("a forged signature", store.DiffSignature, func(s *store.Seal) { s.Signature[0] ^= 1 })
	f("a day the database lacks", store.DiffDayMissing, func(s *store.Seal) { s.Day = s.Day.Add(-24 * time.Hour) })

	// The seal recomputed in the database after a change: only the
	// statement knows.
	exec(t, conn, `UPDATE seals SET count = count + 1, signature = NULL, key_id = NULL, public_key = NULL`)
	rep := verify(t, db, store.VerifyOptions{Statements: stmts})
	if !slices.ContainsFunc(rep.Differences, func(d store.Difference) bool { return d.Kind == store.DiffStatement }) {
		t.Fatalf("unexpected differences after the seal row changed; got %v; want one against the statement", rep.Differences)
	}
}

// Packets stored for a sealed day are sealed as an addendum once the grace
// has passed; until then verify names them.
func TestSeal_Addendum(t *testing.T) {
	db, conn, pkts := sealedStore(t, nil)
	ctx := context.Background()
	late := slices.Clone(pkts[:5])
	for i := range late {
		late[i].ID += 1 << 40
		late[i].Raw = slices.Clone(late[i].Raw)
	}
	write(t, db, late...)
	var noted time.Time
	if err := conn.QueryRow(ctx, `SELECT day FROM seal_pending`).Scan(&noted); err != nil || !noted.Equal(fixtureDay) {
		t.Fatalf("unexpected note of the late packets' day; got %v, %v; want %s", noted, err, fixtureDay)
	}
	rep := verify(t, db, store.VerifyOptions{})
	if rep.OK() || rep.Differences[0].Kind != store.DiffUnsealed {
		t.Fatalf("unexpected report with late packets not sealed yet; got %v; want %q", rep.Differences, store.DiffUnsealed)
	}
	// Within the grace after the first seal: nothing.
	if made, err := db.SealDays(ctx, time.Now(), store.SealConfig{After: time.Hour}); err != nil || len(made) != 0 {
		t.Fatalf("unexpected seals within the grace; got %+v, %v; want none", made, err)
	}
	made, err := db.SealDays(ctx, time.Now().Add(2*time.Hour), store.SealConfig{After: time.Hour})
	if err != nil || len(made) != 1 || made[0].Addendum != 1 || made[0].Count != int64(len(late)) {
		t.Fatalf("unexpected addendum; got %+v, %v; want addendum 1 of %d packets", made, err, len(late))
	}
	if rep := verify(t, db, store.VerifyOptions{}); !rep.OK() || rep.Packets != int64(len(pkts)+len(late)) {
		t.Fatalf("unexpected report after the addendum; got %+v", rep)
	}
}

// An export's proofs lead from each packet's stored fields to its seal.
func TestProve(t *testing.T) {
	db, _, pkts := sealedStore(t, nil)
	ctx := context.Background()
	got, _, err := db.Packets(ctx, hepvault.Filter{CallID: pkts[20].CallID, Limit: 100})
	if err != nil || len(got) == 0 {
		t.Fatalf("unexpected packets of call %s; got %d, %v", pkts[20].CallID, len(got), err)
	}
	proofs, err := db.Prove(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	for i := range proofs {
		if err := proofs[i].Check(); err != nil {
			t.Fatalf("proof of packet %d: %v", got[i].ID, err)
		}
		back, err := store.DecodeCanonical(proofs[i].Canonical)
		if err != nil || back.ID != got[i].ID || string(back.Raw) != string(got[i].Raw) {
			t.Fatalf("unexpected packet in proof %d; got %+v, %v", i, back, err)
		}
		bad := proofs[i]
		bad.Canonical = slices.Clone(bad.Canonical)
		bad.Canonical[len(bad.Canonical)-1] ^= 1
		if err := bad.Check(); err == nil {
			t.Fatalf("a proof of a changed packet %d checks", got[i].ID)
		}
	}
	// A packet of a day not sealed is refused.
	p := packet(time.Now().UTC(), hepvault.KindRequest, "OPTIONS", 0, "unsealed")
	write(t, db, p)
	if _, err := db.Prove(ctx, []hepvault.Packet{p}); err == nil || !strings.Contains(err.Error(), "not sealed yet") {
		t.Fatalf("unexpected error proving an unsealed packet; got %v", err)
	}
}

// A day dropped by retention is reported as dropped, not as missing; a
// partition dropped by other hands is missing.
func TestVerify_DroppedDay(t *testing.T) {
	db, conn, _ := sealedStore(t, nil)
	if ok, err := db.DropDay(context.Background(), fixtureDay, time.Now()); err != nil || !ok {
		t.Fatalf("unexpected drop; got %v, %v", ok, err)
	}
	rep := verify(t, db, store.VerifyOptions{})
	if !rep.OK() || len(rep.Dropped) != 1 || !rep.Dropped[0].Equal(fixtureDay) {
		t.Fatalf("unexpected report after retention dropped the day; got %+v; want it dropped, no difference", rep)
	}
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM seal_blocks`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("unexpected seal_blocks rows left for the dropped day; got %d, %v", n, err)
	}
}

// A role that is not a superuser migrates a store without packets_image
// (a function in LANGUAGE internal takes a superuser to make), and its
// days seal and verify through PostgreSQL's binary output.
func TestSeal_NotSuperuser(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.NewDatabase(t)
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	role := fmt.Sprintf("hv_plain_%d", time.Now().UnixNano())
	exec(t, admin, `CREATE ROLE `+role+` LOGIN NOSUPERUSER`)
	t.Cleanup(func() {
		_, _ = admin.Exec(ctx, `REASSIGN OWNED BY `+role+` TO CURRENT_USER; DROP OWNED BY `+role+`; DROP ROLE `+role)
	})
	exec(t, admin, `ALTER DATABASE `+admin.Config().Database+` OWNER TO `+role)
	cfg := store.DefaultConfig()
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DSN = strings.Replace(dsn, "//"+pc.User+"@", "//"+role+"@", 1)
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate as a role that is not a superuser: %v", err)
	}
	var has bool
	if err := admin.QueryRow(ctx, `SELECT to_regprocedure('packets_image(packet_v1[])') IS NOT NULL`).Scan(&has); err != nil || has {
		t.Fatalf("packets_image made by a role that is not a superuser (%v, %v)", has, err)
	}
	pkts := fixturePackets(t)
	write(t, db, pkts...)
	if _, err := db.SealDays(ctx, time.Now(), store.SealConfig{After: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, db, store.VerifyOptions{}); !rep.OK() || rep.Packets != int64(len(pkts)) || rep.SealedDays != 1 {
		t.Fatalf("unexpected report; got %+v; want no difference, %d packets, 1 sealed day", rep, len(pkts))
	}
}
