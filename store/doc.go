// Package store is hepvault's PostgreSQL side: it applies the embedded
// migrations, keeps the daily partitions of packet_blocks ahead of time,
// writes batches of packets as blocks of up to 128 packets a row (block.go),
// and answers the queries the API serves.
// It is the only package that speaks SQL; pgx errors become the root error
// kinds (hepvault.ErrUnavailable, ...) at this boundary.
package store
