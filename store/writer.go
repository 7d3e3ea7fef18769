package store

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
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
	// Writers is how many batches are written at once, each on its own
	// connection, while Run encodes the next.
	Writers int
	// WriteTimeout bounds one write; a longer one counts as the database
	// being unavailable (write_timeout.go).
	WriteTimeout time.Duration
	// Spool, when set, takes the batches the database cannot: a batch is
	// retried for SpoolAfter, then spooled, and a replayer writes the spool
	// back when the database answers (writer_spool.go). Without a spool a
	// batch is retried until the database answers or Run's ctx ends.
	Spool      *spool.Spool
	SpoolAfter time.Duration
	// OnWrite, when set, is called after each write the database committed
	// (a batch, a spooled batch replayed, or one packet of a batch written
	// one by one) with its packets and how long it took; for metrics. It
	// runs on the writer's goroutines and must return quickly.
	OnWrite func(packets int, took time.Duration)
	// Retention, when set, is consulted for every batch Run takes: packets
	// past its horizon, or of a day its disk guard dropped, are dropped
	// and counted (Expired, DiskFull), and so is every packet while the
	// guard has paused writing.
	Retention *Retention
}

// DefaultWriterConfig: batches large enough to fill blocks, flushed soon
// enough that a query sees a packet within a fraction of a second.
func DefaultWriterConfig() WriterConfig {
	return WriterConfig{
		BatchSize: 2000, FlushInterval: 200 * time.Millisecond, Writers: 2,
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
	// WriteErrors counts writes that failed, by reason (WriteUnavailable,
	// WriteRefused); a failed write is retried, spooled or written again
	// packet by packet, so these are not packets lost.
	WriteErrors [numWriteErrors]uint64
	// Expired counts packets not stored because their capture time is
	// past the retention horizon.
	Expired uint64
	// DiskFull counts packets not stored because the disk guard paused
	// writing, or because the guard had dropped their day.
	DiskFull uint64
}

// WriteError says why a write to the database failed.
type WriteError uint8

// Reasons a write fails; each has a counter.
const (
	WriteUnavailable WriteError = iota // the database did not answer, or not within WriteTimeout
	WriteRefused                       // the database refused the write (a row it would not take)
	numWriteErrors
)

var writeErrorNames = [numWriteErrors]string{"unavailable", "refused"}

func (r WriteError) String() string { return writeErrorNames[r] }

// WriteErrors lists every reason, for metrics.
func WriteErrors() []WriteError { return []WriteError{WriteUnavailable, WriteRefused} }

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
	writeErrors       [numWriteErrors]atomic.Uint64
	lastSpoolFullLog  atomic.Int64
	retention         *Retention
	expired, diskFull atomic.Uint64
	lastRefusedLog    atomic.Int64
	spoolBufs         sync.Pool // *[]byte: the spool form of a batch
	// dbAway is set while the database is away: a writer spooled a batch
	// after a failed write, and no write has succeeded since.
	dbAway atomic.Bool
	// queueFilling reports that Run's input channel is over a quarter
	// full: a batch then goes to the spool at its first failed write, not
	// after SpoolAfter, which at 100,000 packets a second is longer than
	// the collector's queue lasts, or, when every writer is busy, at once
	// (Run's overflow). A quarter: the rest of the queue (~0.5 s at that
	// rate) absorbs Run's own pauses while the machine's cores are all busy.
	queueFilling func() bool
	// liveBusy reports that live traffic needs the database and the
	// machine: the queue holds more than a sixteenth of its size, or every
	// writer has a batch in hand. The replayer then waits (replayYield).
	liveBusy    func() bool
	busyWriters atomic.Int32
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
	if cfg.Writers <= 0 {
		cfg.Writers = DefaultWriterConfig().Writers
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
		retention: cfg.Retention, queueFilling: func() bool { return false }, liveBusy: func() bool { return false }}
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	st := WriterStats{
		Stored: w.stored.Load(), Batches: w.batches.Load(), Retries: w.retries.Load(),
		Rejected: w.rejected.Load(), LastFlushS: time.Duration(w.lastFlushNanos.Load()).Seconds(),
		Spooled: w.spooled.Load(), Replayed: w.replayed.Load(),
		Expired: w.expired.Load(), DiskFull: w.diskFull.Load(),
	}
	for r := range st.SpoolDropped {
		st.SpoolDropped[r] = w.spoolDropped[r].Load()
	}
	for r := range st.WriteErrors {
		st.WriteErrors[r] = w.writeErrors[r].Load()
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
//
// Run's goroutine gathers and encodes batches; Writers goroutines write them,
// each on its own connection. Encoding a batch (~2 µs a packet) thus
// overlaps PostgreSQL's work on the batches before it (~9 µs a packet, on
// its own core), where one goroutine doing both made them add up and capped
// ingest at their sum. Batches are committed in any order among the
// writers: a query at the live edge may see a batch before the one ahead of
// it, for the few milliseconds between their commits.
func (w *Writer) Run(ctx context.Context, in <-chan hepvault.Packet) error {
	w.queueFilling = func() bool { return 4*len(in) > cap(in) }
	w.liveBusy = func() bool {
		return 16*len(in) > cap(in) || int(w.busyWriters.Load()) >= w.cfg.Writers
	}
	defer goUntilStopped(ctx, w.cleanTermIndexLoop)()
	if w.spool != nil {
		defer goUntilStopped(ctx, w.replay)()
	}
	// One slot per writer plus one: Run encodes into the spare while every
	// writer has a batch in hand, then waits for a slot.
	slots := make(chan *writeSlot, w.cfg.Writers+1)
	for range cap(slots) {
		slots <- &writeSlot{}
	}
	work := make(chan *writeSlot, cap(slots))
	errc := make(chan error, w.cfg.Writers)
	var writers sync.WaitGroup
	for range w.cfg.Writers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			w.writeLoop(ctx, work, slots, errc)
		}()
	}
	var overflow *writeSlot // spooled by Run itself when every slot is busy
	batch := make([]hepvault.Packet, 0, w.cfg.BatchSize)
	tick := time.NewTicker(w.cfg.FlushInterval)
	defer tick.Stop()
	flush := func() error {
		batch = w.admit(batch, time.Now())
		if len(batch) == 0 {
			return nil
		}
		s, err := w.takeSlot(slots, errc)
		if err != nil {
			return err
		}
		// No slot: every writer is busy and the queue is filling, the
		// database is behind live traffic. The batch goes to the spool,
		// whose replayer writes it beside the writers, and the queue keeps
		// draining instead of overflowing.
		spill := s == nil
		if spill {
			if overflow == nil {
				overflow = &writeSlot{}
			}
			s = overflow
		}
		s.encode(w, batch)
		clear(batch) // drop references to the raw payloads: the blocks hold copies
		batch = batch[:0]
		if spill {
			w.toSpool(ctx, s.enc, spoolOverflow)
		} else {
			work <- s
		}
		return nil
	}
	stop := func(err error) error {
		close(work)
		writers.Wait()
		if err != nil {
			return err
		}
		select {
		case err = <-errc:
		default:
		}
		return err
	}
	for {
		select {
		case p, ok := <-in:
			if !ok {
				return stop(flush())
			}
			batch = append(batch, p)
			if len(batch) >= w.cfg.BatchSize {
				if err := flush(); err != nil {
					return stop(err)
				}
			}
		case <-tick.C:
			if err := flush(); err != nil {
				return stop(err)
			}
		case err := <-errc:
			return stop(err)
		}
	}
}

// takeSlot waits for a free slot; with a spool, it gives up (nil) as soon as
// Run's input queue is filling (queueFilling), for the batch to go to the
// spool.
func (w *Writer) takeSlot(slots <-chan *writeSlot, errc <-chan error) (*writeSlot, error) {
	select {
	case s := <-slots:
		return s, nil
	default:
	}
	var poll <-chan time.Time
	if w.spool != nil {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case s := <-slots:
			return s, nil
		case err := <-errc:
			return nil, err
		case <-poll:
			if w.queueFilling() {
				return nil, nil
			}
		}
	}
}

// writeSlot is a batch encoded for the writers, in a buffer and counts kept
// from batch to batch (a 2,000-packet batch encodes to ~2 MB).
type writeSlot struct {
	buf    []byte
	counts statCounts
	enc    encoded
}

// encode encodes batch into s once: the same blocks go to the database or
// the spool.
func (s *writeSlot) encode(w *Writer, batch []hepvault.Packet) {
	blocks, buf := encodeBlocksInto(batch, s.buf)
	s.buf = buf[:0]
	s.counts.reset()
	s.counts.addPackets(batch)
	s.enc = encoded{blocks: blocks, packets: len(batch), stats: &s.counts}
}

// writeLoop writes the slots of work and hands each back to slots. Without a
// spool a batch is retried until ctx is done; the error then goes to errc
// and the loop goes on, so that Run, which stops on it, never waits on a
// slot that will not come back.
func (w *Writer) writeLoop(ctx context.Context, work <-chan *writeSlot, slots chan<- *writeSlot, errc chan<- error) {
	for s := range work {
		w.busyWriters.Add(1)
		if w.spool != nil {
			w.writeOrSpool(ctx, s.enc)
		} else if err := w.writeWithRetry(ctx, s.enc, 0); err != nil {
			select {
			case errc <- err:
			default: // Run has an error to stop on already
			}
		}
		w.busyWriters.Add(-1)
		s.enc = encoded{}
		slots <- s
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
	if err := w.ensurePartitions(ctx, batch.blocks); err != nil {
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
	w.wrote(batch.packets, time.Since(start))
	return nil
}

// wrote counts a write the database committed.
func (w *Writer) wrote(packets int, took time.Duration) {
	w.batches.Add(1)
	w.lastFlushNanos.Store(int64(took))
	if w.cfg.OnWrite != nil {
		w.cfg.OnWrite(packets, took)
	}
}

// ensurePartitions makes the partitions of the days blocks fall on (a block
// lies within one day).
func (w *Writer) ensurePartitions(ctx context.Context, blocks []block) error {
	days := map[time.Time]struct{}{}
	for i := range blocks {
		days[dayOf(blocks[i].firstAt)] = struct{}{}
	}
	return w.db.parts.ensureFor(ctx, days)
}

// admit returns batch without the packets Retention refuses, counting them
// and logging at most every 10 s; the slots it frees are zeroed.
func (w *Writer) admit(batch []hepvault.Packet, now time.Time) []hepvault.Packet {
	r := w.retention
	if r == nil || len(batch) == 0 {
		return batch
	}
	n := len(batch)
	if r.Paused() {
		clear(batch)
		w.diskFull.Add(uint64(n))
		w.logRefused(now, "disk guard: no space left to write; batch dropped (counted as disk_full)", n)
		return batch[:0]
	}
	horizon, disk := r.Cutoff(now), r.diskCutoff()
	var expired, diskFull int
	batch = slices.DeleteFunc(batch, func(p hepvault.Packet) bool {
		switch {
		case p.CapturedAt.Before(horizon):
			expired++
		case p.CapturedAt.Before(disk):
			diskFull++
		default:
			return false
		}
		return true
	})
	if expired > 0 {
		w.expired.Add(uint64(expired))
		w.logRefused(now, "packets captured before the retention horizon not stored (counted as expired)", expired)
	}
	if diskFull > 0 {
		w.diskFull.Add(uint64(diskFull))
		w.logRefused(now, "packets of a day the disk guard dropped not stored (counted as disk_full)", diskFull)
	}
	return batch
}

// logRefused logs msg at most once every 10 s: while the guard pauses
// writing, every batch is refused.
func (w *Writer) logRefused(now time.Time, msg string, n int) {
	t := now.UnixNano()
	if last := w.lastRefusedLog.Load(); t-last > int64(10*time.Second) && w.lastRefusedLog.CompareAndSwap(last, t) {
		w.log.Warn(msg, "packets", n, "expired_total", w.expired.Load(), "disk_full_total", w.diskFull.Load())
	}
}
