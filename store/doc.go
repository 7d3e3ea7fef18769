// Package store is hepvault's PostgreSQL side: it applies the embedded
// migrations, keeps the daily partitions of packet_blocks ahead of time,
// writes batches of packets as blocks of up to 128 packets a row (block.go)
// with what each holds for every filter (terms.go), spools them to disk while
// the database is away (writer_spool.go), and answers the queries the API
// serves by asking the index for the blocks that can match
// (query_blocks.go), and the calls of a window with the legs each one is
// correlated with (calls.go, legs.go). It drops whole days past a retention horizon or when
// the disk runs short (retention.go), except the days legal holds keep
// (holds.go). It says whether a window is complete (coverage.go), from the
// agents' blocks and the record each serving process keeps of itself, and
// keeps the API's access log (accesslog.go). It does not parse SIP: a packet's fields are stored as
// the collector extracted them. The one exception is SIPREC (RFC 7866): the writer reads the
// recording metadata of recording-session requests (internal/siprec) as it counts a batch, so
// that a batch replayed from the spool, which keeps only blocks, gets it too, and writes it to
// recording_messages with the blocks (recording_write.go); recordings.go reads it back, links each
// recording to the call it records and finds the answered calls left unrecorded.
// It seals each ended day's packets into a Merkle tree whose root is the
// day's seal, verifies the days against their seals, and proves single
// packets for exports (seal.go).
// It is the only package that speaks SQL; pgx errors become the root error
// kinds (hepvault.ErrUnavailable, ...) at this boundary.
//
// Beyond one process and one database: several hepvault processes may
// share a database, one of them leading the store-wide jobs (leader.go);
// queries may read a streaming replica (Config.ReadOnly, replica.go); and
// days past a bound may move to an archive database, queried through
// postgres_fdw foreign partitions (archive.go).
package store
