package store

import (
	"context"
	"errors"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store/spool"
)

// SpoolDrop says why packets that could not reach the database were not
// spooled either.
type SpoolDrop uint8

// Reasons a batch is dropped instead of spooled; each has a counter.
const (
	SpoolFull   SpoolDrop = iota // the spool reached its size cap
	SpoolFailed                  // the spool could not be written (disk error; logged)
	numSpoolDrops
)

var spoolDropNames = [numSpoolDrops]string{"spool_full", "spool_error"}

func (r SpoolDrop) String() string { return spoolDropNames[r] }

// SpoolDrops lists every reason, for metrics.
func SpoolDrops() []SpoolDrop { return []SpoolDrop{SpoolFull, SpoolFailed} }

// writeOrSpool writes batch to the database, or to the spool when the
// database has not taken it within SpoolAfter. Once a batch went to the
// spool because the database was away, the next ones follow it at once
// rather than each waiting SpoolAfter, until a write (a writer's or the
// replayer's) succeeds again or the spool is empty. A spool that holds
// batches only because the database fell behind live traffic (Run's
// overflow) does not stop the writers: they write beside the replayer, so
// that both drain the backlog.
func (w *Writer) writeOrSpool(ctx context.Context, batch encoded) {
	if ctx.Err() == nil && (!w.dbAway.Load() || w.spool.Empty()) {
		err := w.writeWithRetry(ctx, batch, w.cfg.SpoolAfter)
		if err == nil {
			w.dbAway.Store(false)
			return
		}
		if errors.Is(err, hepvault.ErrUnavailable) && w.dbAway.CompareAndSwap(false, true) {
			w.log.Warn("database unavailable; spooling batches to disk until it answers",
				"packets", batch.packets, "spool_dir", w.spool.Dir(), "err", err)
		}
		w.toSpool(ctx, batch, spoolTried)
		return
	}
	w.toSpool(ctx, batch, spoolUntried)
}

// spoolKind says how a batch comes to the spool.
type spoolKind uint8

const (
	spoolTried    spoolKind = iota // a write of it was attempted: its outcome may be unknown, so the replay must not store it twice
	spoolUntried                   // no write was attempted: the database is away, or hepvault is stopping
	spoolOverflow                  // the database is up but behind: appended without an fsync (spool.AppendOverflow)
)

// toSpool appends batch to the spool, or counts it as dropped.
func (w *Writer) toSpool(ctx context.Context, batch encoded, kind spoolKind) {
	bp, _ := w.spoolBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = appendEncoded((*bp)[:0], batch)
	var err error
	switch kind {
	case spoolTried:
		err = w.spool.Append(*bp, batch.packets)
	case spoolOverflow:
		err = w.spool.AppendOverflow(*bp, batch.packets)
	default:
		err = w.spool.AppendUnwritten(*bp, batch.packets)
	}
	w.spoolBufs.Put(bp)
	switch {
	case err == nil:
		w.spooled.Add(uint64(batch.packets))
		select {
		case w.spoolWake <- struct{}{}:
		default: // the replayer has a wake-up pending already
		}
	case errors.Is(err, spool.ErrFull):
		// A full spool need not mean the database is away: the replay may
		// lag behind live traffic. One attempt, then: stored out of order
		// beats dropped.
		if kind != spoolTried && ctx.Err() == nil && w.writeWithRetry(ctx, batch, time.Nanosecond) == nil {
			return
		}
		w.spoolDropped[SpoolFull].Add(uint64(batch.packets))
		// Once per 10 s: while the spool is full every batch ends here.
		now := time.Now().UnixNano()
		if last := w.lastSpoolFullLog.Load(); now-last > int64(10*time.Second) && w.lastSpoolFullLog.CompareAndSwap(last, now) {
			w.log.Error("spool full: dropping batches until the database answers; raise --spool-max-bytes or bring the database back",
				"packets", batch.packets, "dropped_total", w.spoolDropped[SpoolFull].Load(), "err", err)
		}
	default:
		w.spoolDropped[SpoolFailed].Add(uint64(batch.packets))
		w.log.Error("spool not writable: batch dropped; check the disk under the spool folder",
			"packets", batch.packets, "spool_dir", w.spool.Dir(), "err", err)
	}
}

// replay writes spooled batches to the database, oldest first, one batch
// per step, until ctx is done. It runs beside the writer, so live traffic
// never waits for it: meanwhile new batches go to the spool.
func (w *Writer) replay(ctx context.Context) {
	wait := w.cfg.RetryInterval
	retrying := false // the batch in hand failed once: its outcome is unknown
	for ctx.Err() == nil {
		rec, ok, err := w.spool.Next()
		if err != nil {
			w.log.Error("spool unreadable; trying again", "spool_dir", w.spool.Dir(), "err", err)
			sleepCtx(ctx, w.cfg.MaxRetryInterval)
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-w.spoolWake:
			}
			continue
		}
		w.replayYield(ctx)
		batch, err := readEncoded(rec.Data, rec.Packets)
		if err != nil {
			// The record's checksum held, so these bytes are what was
			// spooled: a bug, not a disk fault. Counted, logged, passed.
			w.rejected.Add(uint64(rec.Packets))
			w.log.Error("spooled batch unreadable; its packets are lost", "packets", rec.Packets, "err", err)
			if err := w.spool.Commit(rec); err != nil {
				w.log.Warn("spool checkpoint not written", "err", err)
			}
			continue
		}
		if err := w.replayBatch(ctx, batch, rec.MayBeStored || retrying); err != nil {
			if ctx.Err() != nil {
				return // not committed: the next run replays it
			}
			retrying = true
			if wait == w.cfg.RetryInterval {
				w.log.Warn("database still unavailable; spooled batches wait", "spool_bytes", w.spool.Bytes(), "err", err)
			}
			w.retries.Add(1)
			sleepCtx(ctx, wait)
			wait = min(2*wait, w.cfg.MaxRetryInterval)
			continue
		}
		wait, retrying = w.cfg.RetryInterval, false
		w.dbAway.Store(false)
		w.replayed.Add(uint64(rec.Packets))
		if err := w.spool.Commit(rec); err != nil {
			// The batch is stored; at worst it is replayed again, once.
			w.log.Warn("spool checkpoint not written", "err", err)
		}
		if w.spool.Empty() {
			w.log.Info("spool replayed; writing to the database directly again", "replayed_total", w.replayed.Load())
		}
	}
}

// replayYield waits while live traffic needs the database and the machine
// (liveBusy), so that a backlog drains in what live traffic leaves: at
// 100,000 packets a second the live writes take both cores of a small box,
// and a replay beside them starved the collector until its queue
// overflowed. While the database is away the replayer is its probe and
// does not wait.
func (w *Writer) replayYield(ctx context.Context) {
	for w.liveBusy() && !w.dbAway.Load() && ctx.Err() == nil {
		sleepCtx(ctx, 5*time.Millisecond)
	}
}

// replayBatch writes pkts without storing any twice: with WriteBatchOnce
// when some may be in the database already (a write with an unknown
// outcome, a crash before the spool's Commit), else with WriteBatch, which
// skips reading the stored blocks of the batch's time span first, so a
// spool drains sooner. Should WriteBatch meet a block stored already, it
// turns to WriteBatchOnce itself. A
// packet the database refuses is counted and logged, as on the direct path;
// an unavailable database is returned for the replayer to wait on.
func (w *Writer) replayBatch(ctx context.Context, batch encoded, mayBeStored bool) error {
	var err error
	if mayBeStored {
		err = w.writeOnceBounded(ctx, batch)
	} else {
		err = w.writeBounded(ctx, batch)
	}
	if err == nil || errors.Is(err, hepvault.ErrUnavailable) || ctx.Err() != nil {
		return err
	}
	w.log.Error("spooled batch refused; writing it packet by packet", "packets", batch.packets, "err", err)
	pkts, ok := w.decodeBatch(batch)
	if !ok {
		return nil
	}
	for i := range pkts {
		if err := w.writeOnceBounded(ctx, newEncoded(pkts[i:i+1])); err != nil {
			if errors.Is(err, hepvault.ErrUnavailable) || ctx.Err() != nil {
				return err
			}
			w.rejected.Add(1)
			w.log.Error("packet refused by the database", "id", pkts[i].ID, "call_id", pkts[i].CallID, "err", err)
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
