package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config says how to reach the database and how far ahead to make partitions.
type Config struct {
	DSN      string
	MaxConns int32
	// PartitionsAhead is how many days after today get a partition made in
	// advance; any other day gets one when a packet arrives for it.
	PartitionsAhead int
	// ReadOnly is for a database hepvault only reads, a streaming replica
	// (replica.go): Prepare checks that the schema is there instead of
	// applying it, and makes no partitions.
	ReadOnly bool
	Logger   *slog.Logger
}

// DefaultConfig returns the settings hepvault runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{MaxConns: 8, PartitionsAhead: 3, Logger: slog.Default()}
}

// DB is an open connection pool to hepvault's database.
type DB struct {
	pool  *pgxpool.Pool
	cfg   Config
	log   *slog.Logger
	parts *partitioner
	// notReady is set by Connect until Prepare succeeds (connect.go).
	notReady   atomic.Bool
	prepareErr atomic.Pointer[error] // the last failed Prepare, for health answers
	metaOID    atomic.Uint32         // packet_v1's OID, looked up once (packetTypeOID)
	imageOID   atomic.Int64          // packet_v1's OID if packets_image exists, 0 if not, -1 not looked up (blockImageOID)
	sealed     sealCache             // the sealed days, for the writer (seal.go)
	// noStats turns statistics off, for benchmarks that measure their cost
	// (export_test.go).
	noStats bool
}

// packetTypeOID is the OID of packet_v1 in this database, which a binary
// packet_v1[] names (block.go).
func (db *DB) packetTypeOID(ctx context.Context) (uint32, error) {
	if oid := db.metaOID.Load(); oid != 0 {
		return oid, nil
	}
	var oid uint32
	if err := db.pool.QueryRow(ctx, `SELECT 'packet_v1'::regtype::oid`).Scan(&oid); err != nil {
		return 0, err
	}
	db.metaOID.Store(oid)
	return oid, nil
}

// blockImageOID is packet_v1's OID when the database has packets_image
// (block_image.go) and its images are in the layout the image reader
// reads (a little-endian server: the probe's element OID reads back), for
// a day to be read through blocks' images; 0 otherwise (hepvault's role
// could not create the function, or another layout), for their binary
// output.
func (db *DB) blockImageOID(ctx context.Context) (uint32, error) {
	if oid := db.imageOID.Load(); oid >= 0 {
		return uint32(oid), nil
	}
	var (
		oid   uint32
		has   bool
		probe []byte
	)
	err := db.pool.QueryRow(ctx, `SELECT 'packet_v1'::regtype::oid, to_regprocedure('packets_image(packet_v1[])') IS NOT NULL`).Scan(&oid, &has)
	if err == nil && has {
		err = db.pool.QueryRow(ctx, `SELECT packets_image(ARRAY[NULL::packet_v1])`).Scan(&probe)
	}
	if err != nil {
		return 0, err
	}
	why := ""
	switch {
	case probe == nil:
		why = "packets_image is missing (it needs a superuser)"
	case len(probe) < 12 || le32(probe[8:]) != oid:
		why = "this server keeps arrays in a layout the image reader does not read (not little-endian)"
	}
	if why != "" {
		oid = 0
	}
	if db.imageOID.CompareAndSwap(-1, int64(oid)) && why != "" {
		db.log.Warn(why + ": seals and verify read blocks through PostgreSQL's binary output, several times slower; see the README")
	}
	return oid, nil
}

// Open connects to the database and checks that it answers. It does not
// migrate: call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	db, err := newDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.pool.Ping(pingCtx); err != nil {
		db.pool.Close()
		return nil, interpretError("connect to "+db.pool.Config().ConnConfig.Host, err)
	}
	return db, nil
}

// newDB builds the pool cfg describes; pgxpool dials only when asked, so it
// does not wait for the database.
func newDB(ctx context.Context, cfg Config) (*DB, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: bad database address: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, interpretError("open", err)
	}
	db := &DB{pool: pool, cfg: cfg, log: cfg.Logger}
	db.imageOID.Store(-1)
	db.parts = newPartitioner(db)
	return db, nil
}

// Close releases the pool.
func (db *DB) Close() { db.pool.Close() }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.errNotReady(); err != nil {
		return err
	}
	if err := db.pool.Ping(ctx); err != nil {
		return interpretError("ping", err)
	}
	return nil
}
