package store

import "github.com/hepvault/hepvault"

// EncodeForSpool gives tests in store_test a spool record's data for pkts,
// as the writer spools it.
func EncodeForSpool(pkts []hepvault.Packet) []byte { return appendEncoded(nil, newEncoded(pkts)) }

// DisableStats turns statistics off, for benchmarks that measure their cost.
func DisableStats(db *DB) { db.noStats = true }
