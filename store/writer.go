package store

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/store/spool"
)

// WriterConfig says when the writer flushes.
type WriterConfig struct {
	BatchSize     int           // flush when this many packets wait
	FlushInterval time.Duration // and at least this often
	// RetryInterval is the first wait after the database failed a batch; it
	// doubles up to MaxRetryInterval while the database stays away.
	RetryInterval    time.Duration
	MaxRetryInterval time.Duration
	// WriteTimeout bounds one write; a longer one counts as the database
	// being unavailable (write_timeout.go).
	WriteTimeout time.Duration
	// Spool, when set, takes the batches the database cannot: a batch is
	// retried for SpoolAfter, then spooled, and a replayer writes the spool
	// back when the database answers (writer_spool.go). Without a spool a
	// batch is retried until the database answers or Run's ctx ends.
	Spool      *spool.Spool
	SpoolAfter time.Duration
}

// DefaultWriterConfig: batches large enough to fill blocks, flushed soon
// enough that a query sees a packet within a fraction of a second.
func DefaultWriterConfig() WriterConfig {
	return WriterConfig{
		BatchSize: 2000, FlushInterval: 200 * time.Millisecond,
		RetryInterval: 250 * time.Millisecond, MaxRetryInterval: 5 * time.Second,
		WriteTimeout: 15 * time.Second, SpoolAfter: 1500 * time.Millisecond,
	}
}

// WriterStats counts what the writer did; read with Stats.
type WriterStats struct {
	Stored     uint64 // packets the database has committed
	Batches    uint64
	Retries    uint64 // batch attempts that failed and were tried again
	Rejected   uint64 // packets the database refused one by one (logged)
	LastFlushS float64
	Spooled    uint64 // packets written to the spool
	Replayed   uint64 // packets of spooled batches written to the database
	// SpoolDropped counts packets lost because the spool could not take
	// them, by reason (SpoolFull, SpoolFailed).
	SpoolDropped [numSpoolDrops]uint64
}

// Writer takes packets from a channel and writes them to the database in
// batches, each as blocks (block_write.go).
type Writer struct {
	db  *DB
	cfg WriterConfig
	log *slog.Logger

	stored, batches, retries, rejected atomic.Uint64
	lastFlushNanos                     atomic.Int64

	spool             *spool.Spool
	spoolWake         chan struct{} // an Append for the replayer
	spooled, replayed atomic.Uint64
	spoolDropped      [numSpoolDrops]atomic.Uint64
	lastSpoolFullLog  atomic.Int64
	spoolBuf          []byte     // the spool form of a batch; used by Run's goroutine only
	encBuf            []byte     // where Run encodes its batches
	counts            statCounts // where Run counts them
	// queueFilling reports that Run's input channel is over half full: a
	// batch then goes to the spool at its first failed write, not after
	// SpoolAfter, which at 100,000 packets a second is longer than the
	// collector's queue lasts.
	queueFilling func() bool
}

// NewWriter returns a writer into db.
func NewWriter(db *DB, cfg WriterConfig) *Writer {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultWriterConfig().BatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultWriterConfig().FlushInterval
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultWriterConfig().RetryInterval
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriterConfig().WriteTimeout
	}
	if cfg.SpoolAfter <= 0 {
		cfg.SpoolAfter = DefaultWriterConfig().SpoolAfter
	}
	if cfg.MaxRetryInterval < cfg.RetryInterval {
		cfg.MaxRetryInterval = cfg.RetryInterval
	}
	return &Writer{db: db, cfg: cfg, log: db.log, spool: cfg.Spool, spoolWake: make(chan struct{}, 1),
		queueFilling: func() bool { return false }}
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	st := WriterStats{
		Stored: w.stored.Load(), Batches: w.batches.Load(), Retries: w.retries.Load(),
		Rejected: w.rejected.Load(), LastFlushS: time.Duration(w.lastFlushNanos.Load()).Seconds(),
		Spooled: w.spooled.Load(), Replayed: w.replayed.Load(),
	}
	for r := range st.SpoolDropped {
		st.SpoolDropped[r] = w.spoolDropped[r].Load()
	}
	return st
}

// Run writes what arrives on in until in is closed, then flushes the rest and
// returns nil. While the database is away, with a spool, batches go to the
// spool and are replayed when it answers again; without one, the writer keeps
// retrying the batch in hand (the channel then fills up, and its producer
// counts what it cannot queue) and gives up only when ctx is done, returning
// the error. With a spool, once ctx is done everything still arriving is
// spooled rather than lost.
func (w *Writer) Run(ctx context.Context, in <-chan hepvault.Packet) error {
	defer goUntilStopped(ctx, w.cleanTermIndexLoop)()
	if w.spool != nil {
		defer goUntilStopped(ctx, w.replay)()
	}
	w.queueFilling = func() bool { return 2*len(in) > cap(in) }
	batch := make([]hepvault.Packet, 0, w.cfg.BatchSize)
	tick := time.NewTicker(w.cfg.FlushInterval)
	defer tick.Stop()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var err error
		// Encoded once: the same blocks go to the database or the spool,
		// in a buffer that serves every batch (nothing keeps the blocks
		// once the batch is written or spooled).
		blocks, buf := encodeBlocksInto(batch, w.encBuf)
		w.encBuf = buf[:0]
		w.counts.reset()
		w.counts.addPackets(batch)
		enc := encoded{blocks: blocks, packets: len(batch), stats: &w.counts}
		if w.spool != nil {
			w.writeOrSpool(ctx, enc)
		} else {
			err = w.writeWithRetry(ctx, enc, 0)
		}
		clear(batch) // drop references to the raw payloads
		batch = batch[:0]
		return err
	}
	for {
		select {
		case p, ok := <-in:
			if !ok {
				return flush()
			}
			batch = append(batch, p)
			if len(batch) >= w.cfg.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// goUntilStopped runs fn in a goroutine until the returned stop is called
// (or ctx is done); stop waits for fn to return.
func goUntilStopped(ctx context.Context, fn func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// writeWithRetry writes batch, retrying while the database is unavailable
// for up to patience (0: until ctx is done). It returns the last error when
// it gives up.
func (w *Writer) writeWithRetry(ctx context.Context, batch encoded, patience time.Duration) error {
	return w.retryWrite(ctx, batch, patience, false)
}

// retryWrite is writeWithRetry; mayBeStored says some packets of batch may
// be in the database already, so every write skips stored ones.
func (w *Writer) retryWrite(ctx context.Context, batch encoded, patience time.Duration, mayBeStored bool) error {
	var deadline time.Time
	if patience > 0 {
		deadline = time.Now().Add(patience)
	}
	wait := w.cfg.RetryInterval
	for {
		var err error
		if mayBeStored {
			err = w.writeOnceBounded(ctx, batch)
		} else {
			err = w.writeBounded(ctx, batch)
			// A failed write may have committed before the connection broke.
			mayBeStored = err != nil && errors.Is(err, hepvault.ErrUnavailable)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		if !errors.Is(err, hepvault.ErrUnavailable) {
			// Not the database being away: some row is refused. Write row by
			// row so that one bad row costs only itself.
			w.log.Error("batch refused; writing it packet by packet", "packets", batch.packets, "err", err)
			pkts, ok := w.decodeBatch(batch)
			if !ok {
				return nil
			}
			return w.writeOneByOne(ctx, pkts, patienceLeft(deadline), mayBeStored)
		}
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 || w.queueFilling() {
				return err
			}
			wait = min(wait, left)
		}
		w.retries.Add(1)
		w.log.Warn("database unavailable; retrying batch", "packets", batch.packets, "retry_in_s", wait.Seconds(), "err", err)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, w.cfg.MaxRetryInterval)
	}
}

// decodeBatch returns the packets of batch, which the writer encoded itself
// or read back from its spool. Should its blocks not decode (a bug: the
// spool checks its records' CRCs), its packets are counted as rejected and
// logged, and ok is false.
func (w *Writer) decodeBatch(batch encoded) (pkts []hepvault.Packet, ok bool) {
	pkts, err := batch.decode()
	if err != nil {
		w.rejected.Add(uint64(batch.packets))
		w.log.Error("batch not stored: its blocks do not decode", "packets", batch.packets, "err", err)
		return nil, false
	}
	return pkts, true
}

// patienceLeft turns a deadline back into a patience for writeWithRetry.
func patienceLeft(deadline time.Time) time.Duration {
	if deadline.IsZero() {
		return 0
	}
	return max(time.Until(deadline), time.Nanosecond)
}

// writeOneByOne writes batch a packet at a time; patience and mayBeStored
// are as in retryWrite. Skipping stored packets keeps one stored by an
// earlier part from being counted as refused.
func (w *Writer) writeOneByOne(ctx context.Context, batch []hepvault.Packet, patience time.Duration, mayBeStored bool) error {
	for i := range batch {
		one := newEncoded(batch[i : i+1])
		var err error
		if mayBeStored {
			err = w.writeOnceBounded(ctx, one)
		} else {
			err = w.writeBounded(ctx, one)
		}
		if err != nil {
			if errors.Is(err, hepvault.ErrUnavailable) || ctx.Err() != nil {
				// The failed write's outcome is unknown.
				return w.retryWrite(ctx, newEncoded(batch[i:]), patience, true)
			}
			w.rejected.Add(1)
			w.log.Error("packet refused by the database", "id", batch[i].ID, "call_id", batch[i].CallID, "err", err)
		}
	}
	return nil
}

// WriteBatch writes packets as blocks (block_write.go) in one transaction,
// making any partitions their days need. A batch written again, or a block
// whose first packet is stored already, stores nothing twice.
func (w *Writer) WriteBatch(ctx context.Context, pkts []hepvault.Packet) error {
	return w.writeEncoded(ctx, newEncoded(pkts))
}

func (w *Writer) writeEncoded(ctx context.Context, batch encoded) error {
	start := time.Now()
	if err := w.ensurePartitions(ctx, start, batch.blocks); err != nil {
		return err
	}
	n, err := w.db.insertBlocksPool(ctx, batch.blocks, batch.stats)
	if err != nil {
		return interpretError("write packets", err) // nothing committed
	}
	w.stored.Add(uint64(n))
	if n < int64(batch.packets) {
		// A block collided with a stored one: the batch was written before
		// (then nothing is new) or its packets overlap stored ones. Store
		// each packet that is not stored yet.
		_, err := w.writeEncodedOnce(ctx, batch)
		return err
	}
	w.batches.Add(1)
	w.lastFlushNanos.Store(int64(time.Since(start)))
	return nil
}

// ensurePartitions makes the partitions of the days blocks fall on (a block
// lies within one day).
func (w *Writer) ensurePartitions(ctx context.Context, now time.Time, blocks []block) error {
	days := map[time.Time]struct{}{}
	for i := range blocks {
		days[dayOf(blocks[i].firstAt)] = struct{}{}
	}
	return w.db.parts.ensureFor(ctx, now, days)
}
