package store

import (
	"context"
	"time"
)

// The term index (a GIN index, packet_blocks_terms) takes new entries into a
// pending list; the insert that finds the list over its limit merges it into
// the index, which takes a while in a large index and holds up the writer
// meanwhile: long enough, at tens of thousands of packets a second, to fill
// the collector's queue. Emptying the list from another connection, often,
// keeps writes short and lookups, which scan the list, fast.

const termIndexCleanEvery = 250 * time.Millisecond

// cleanTermIndexes empties the pending list of every partition's term
// index. An empty list costs a look at one page.
func (db *DB) cleanTermIndexes(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `SELECT gin_clean_pending_list(i.indexrelid)
		FROM pg_inherits p
		JOIN pg_index i ON i.indrelid = p.inhrelid
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_am a ON a.oid = c.relam
		WHERE p.inhparent = 'packet_blocks'::regclass AND a.amname = 'gin'`)
	return interpretError("clean the term index", err)
}

// cleanTermIndexLoop runs cleanTermIndexes while the writer has stored
// something since the last time, until ctx is done.
func (w *Writer) cleanTermIndexLoop(ctx context.Context) {
	t := time.NewTicker(termIndexCleanEvery)
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
		err := w.db.cleanTermIndexes(cctx)
		cancel()
		if err != nil {
			// The insert that finds the list full merges it: nothing is
			// lost, and the writer reports an unavailable database itself.
			w.log.Debug("term index not cleaned", "err", err)
			continue
		}
		cleanedAt = stored
	}
}
