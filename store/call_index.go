package store

import (
	"context"
	"time"
)

// The call index (a GIN index, migration 0005) takes new entries into a
// pending list; the insert that finds the list over its limit merges it into
// the index, which takes a while in a large index and holds up the writer
// meanwhile: long enough, at tens of thousands of packets a second, to fill
// the collector's queue. Emptying the list from another connection, often,
// keeps writes short and lookups, which scan the list, fast.

const callIndexCleanEvery = 250 * time.Millisecond

// cleanCallIndexes empties the pending list of every partition's call
// index. An empty list costs a look at one page.
func (db *DB) cleanCallIndexes(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `SELECT gin_clean_pending_list(i.indexrelid)
		FROM pg_inherits p
		JOIN pg_index i ON i.indrelid = p.inhrelid
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_am a ON a.oid = c.relam
		WHERE p.inhparent = 'packet_blocks'::regclass AND a.amname = 'gin'`)
	return interpretError("clean the call index", err)
}

// cleanCallIndexLoop runs cleanCallIndexes while the writer has stored
// something since the last time, until ctx is done.
func (w *Writer) cleanCallIndexLoop(ctx context.Context) {
	t := time.NewTicker(callIndexCleanEvery)
	defer t.Stop()
	var cleanedAt uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stored := w.stored.Load()
		if stored == cleanedAt || !w.db.Ready() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
		err := w.db.cleanCallIndexes(cctx)
		cancel()
		if err != nil {
			// The insert that finds the list full merges it: nothing is
			// lost, and the writer reports an unavailable database itself.
			w.log.Debug("call index not cleaned", "err", err)
			continue
		}
		cleanedAt = stored
	}
}
