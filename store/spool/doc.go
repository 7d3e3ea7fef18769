// Package spool keeps batches of packets on disk while the database cannot
// take them, and gives them back, oldest first, when it can.
//
// It sits beside the writer: store.Writer appends a batch here when
// PostgreSQL is unavailable and a replayer reads the batches back and writes
// them to the database. The package does only file I/O; it knows no SQL.
//
// On disk, under one directory:
//
//	0000000000000001.seg   segments, append-only, numbered in write order
//	0000000000000002.seg
//	checkpoint             segment and offset of the oldest record not yet committed
//
// A segment starts with an 8-byte magic ("HVSPOOL" and a format version),
// then records: a little-endian uint32 length, a little-endian uint32 CRC-32C
// of the payload, and the payload: a flags byte (1: the database may hold
// some of the batch already), a uvarint count of packets, and the batch as
// the store encoded it, which the spool does not read: the store's blocks,
// the very bytes it sends PostgreSQL, so spooling costs no encoding. Each
// Append is written with one write and fsynced: a batch is on disk once
// Append returns. A record torn by a crash or damaged on disk fails its
// length or CRC check; it is counted, logged and skipped.
//
// A segment is deleted only after every record in it was committed (Commit),
// and the checkpoint survives restarts. The checkpoint is not fsynced: losing
// it to a power cut only makes committed records come back again, and the
// writer's replay stores each packet once (store.Writer.WriteBatchOnce).
package spool
