package store

import (
	"crypto/md5"
	"encoding/binary"
)

// CallHash is the key of the call index: the first 8 bytes of md5(Call-ID),
// big-endian, as a signed integer. PostgreSQL computes the same value as
// ('x' || left(md5(call_id), 16))::bit(64)::bigint, which is how migrations
// and hand-written SQL find a call. Two Call-IDs may share a hash, so a
// lookup by hash checks the Call-ID of what it finds.
func CallHash(callID string) int64 {
	var h callHasher
	return h.sum(callID)
}

// callHasher computes CallHash with no allocation per Call-ID, however
// long: converting a string for md5.Sum allocates past 32 bytes.
type callHasher struct{ buf []byte }

func (h *callHasher) sum(callID string) int64 {
	h.buf = append(h.buf[:0], callID...)
	sum := md5.Sum(h.buf)
	return int64(binary.BigEndian.Uint64(sum[:8]))
}
