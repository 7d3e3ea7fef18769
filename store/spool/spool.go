package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull is returned by Append when the batch would take the spool past
// Config.MaxBytes; the caller counts the batch as dropped.
var ErrFull = errors.New("spool: full")

// Config says where the spool lives and how large it may grow.
type Config struct {
	Dir string
	// MaxBytes caps the spool's files together; Append past it fails with ErrFull.
	MaxBytes int64
	// SegmentBytes is the size past which Append starts a new segment, so
	// that replayed data leaves the disk segment by segment.
	SegmentBytes int64
	// SyncEvery bounds how long an appended record may wait for its fsync:
	// Append fsyncs when the last fsync is older, so that while batches
	// come every few milliseconds (a database outage at 100,000 packets a
	// second) one fsync covers many of them. 0: every Append fsyncs.
	SyncEvery time.Duration
	Logger    *slog.Logger
}

// DefaultConfig returns a 1 GiB spool in 64 MiB segments, fsynced at least
// every 200 ms while it is written; Dir must be set.
func DefaultConfig() Config {
	return Config{MaxBytes: 1 << 30, SegmentBytes: 64 << 20, SyncEvery: 200 * time.Millisecond, Logger: slog.Default()}
}

// Stats counts what the spool did.
type Stats struct {
	Bytes    int64  // on disk now
	Appended uint64 // records (batches) appended
	Skipped  uint64 // records skipped as torn or damaged
}

// Record is one batch read back by Next; give it to Commit once the
// database has it.
type Record struct {
	// Data is the batch as appended: the store's encoded blocks, which the
	// spool keeps without reading them (the same bytes the database gets).
	Data []byte
	// Packets is how many packets Data holds, as Append was told.
	Packets int
	// MayBeStored is false only for a batch appended with AppendUnwritten
	// in this run: nothing of it can be in the database unless the reader
	// wrote it. Otherwise some packets may be there already (a write with
	// an unknown outcome, or a crash between a replay and its Commit), and
	// the reader must write it so that none is stored twice.
	MayBeStored bool
	seq         uint64
	end         int64 // offset just past the record
}

// Record flags, the first byte of a record's payload.
const flagMayBeStored = 1

// Spool is an on-disk queue of batches: one writer appends, one reader
// reads the oldest batch with Next and removes it with Commit. Its methods
// are safe for concurrent use.
type Spool struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	segs    []segment // oldest first; while w is open the last one is w's
	w       *os.File  // the segment being appended to; nil until the first Append of this run
	r       *os.File  // the segment being read (segs[0]), opened lazily
	rSeq    uint64
	readOff int64  // in segs[0]: the oldest record not committed
	nextSeq uint64 // number of the next new segment
	// firstSeq is the first segment of this run: older ones were left by
	// an earlier run, which may have written their records and died
	// before its Commit.
	firstSeq uint64
	buf      []byte    // reused record buffer
	syncedAt time.Time // the last fsync of w
	closed   bool

	bytes    atomic.Int64
	appended atomic.Uint64
	skipped  atomic.Uint64
}

// Open opens the spool in cfg.Dir, creating the folder when missing, and
// picks up the segments a previous run left: reading resumes at the
// checkpoint.
func Open(cfg Config) (*Spool, error) {
	def := DefaultConfig()
	if cfg.Dir == "" {
		return nil, errors.New("spool: Config.Dir is empty")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = def.MaxBytes
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = def.SegmentBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = def.Logger
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: folder %s not writable: %w", cfg.Dir, err)
	}
	segs, err := listSegments(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	cp, haveCP, err := readCheckpoint(cfg.Dir)
	if err != nil {
		// Reading from the oldest segment only repeats committed records,
		// which the replay stores once.
		cfg.Logger.Warn("spool: checkpoint unreadable; replaying every segment", "dir", cfg.Dir, "err", err)
		haveCP = false
	}
	s := &Spool{cfg: cfg, log: cfg.Logger, nextSeq: 1}
	if haveCP {
		s.nextSeq = max(s.nextSeq, cp.seq)
		for len(segs) > 0 && segs[0].seq < cp.seq {
			// Committed before the last run ended, not yet deleted.
			if err := os.Remove(filepath.Join(cfg.Dir, segName(segs[0].seq))); err != nil {
				return nil, fmt.Errorf("spool: %w", err)
			}
			segs = segs[1:]
		}
		if len(segs) > 0 && segs[0].seq == cp.seq && cp.off <= segs[0].size {
			s.readOff = cp.off
		}
	}
	s.segs = segs
	for _, sg := range segs {
		s.bytes.Add(sg.size)
	}
	if len(segs) > 0 {
		s.nextSeq = max(s.nextSeq, segs[len(segs)-1].seq+1)
		s.log.Info("spool: batches left by the last run will be replayed", "dir", cfg.Dir, "segments", len(segs), "bytes", s.bytes.Load())
	}
	s.firstSeq = s.nextSeq
	return s, nil
}

// Dir returns the spool's folder.
func (s *Spool) Dir() string { return s.cfg.Dir }

// Bytes returns the size of the spool's files.
func (s *Spool) Bytes() int64 { return s.bytes.Load() }

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	return Stats{Bytes: s.bytes.Load(), Appended: s.appended.Load(), Skipped: s.skipped.Load()}
}

// Empty reports whether every record appended was committed (or skipped).
func (s *Spool) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs) == 0 || (len(s.segs) == 1 && s.w != nil && s.readOff >= s.segs[0].size)
}

// Append writes a batch of packets, encoded as data, as one record, and
// fsyncs the segment unless it did less than SyncEvery ago: when it returns
// nil the batch survives hepvault's crash, and the machine's unless it falls
// within the last SyncEvery of appends (which the next Append, a new
// segment or Close syncs). It fails with
// ErrFull when the record would take the spool past MaxBytes; then nothing
// is written. The record comes back with MayBeStored set.
func (s *Spool) Append(data []byte, packets int) error {
	return s.append(data, packets, flagMayBeStored, true)
}

// AppendUnwritten is Append for a batch that no one tried to write to the
// database: the reader may write it without first looking for its packets
// among those stored, which is faster.
func (s *Spool) AppendUnwritten(data []byte, packets int) error {
	return s.append(data, packets, 0, true)
}

// AppendOverflow is AppendUnwritten without the fsync, for a batch the
// database, up but behind, could not take in time: it was only in memory a
// moment ago, so it need not outlive what the memory would not. Written, it
// survives hepvault's crash (the kernel holds it) though not the machine's.
// The fsync would cost more than the write (~13 ms a 1 MB batch here), and
// at 100,000 packets a second a batch comes every 20 ms.
func (s *Spool) AppendOverflow(data []byte, packets int) error {
	return s.append(data, packets, 0, false)
}

func (s *Spool) append(data []byte, packets int, flags byte, sync bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("spool: append after Close")
	}
	s.buf = append(s.buf[:0], make([]byte, recordHead)...)
	s.buf = append(s.buf, flags)
	s.buf = binary.AppendUvarint(s.buf, uint64(packets))
	s.buf = append(s.buf, data...)
	payload := s.buf[recordHead:]
	if len(payload) > maxRecord {
		return fmt.Errorf("spool: batch of %d packets encodes to %d bytes, over the %d a record may hold", packets, len(payload), maxRecord)
	}
	binary.LittleEndian.PutUint32(s.buf[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(s.buf[4:], crc32.Checksum(payload, castagnoli))
	recLen := int64(len(s.buf))

	newSeg := s.w == nil || (s.segs[len(s.segs)-1].size+recLen > s.cfg.SegmentBytes && s.segs[len(s.segs)-1].size > headerLen)
	need := recLen
	if newSeg {
		need += headerLen
	}
	if s.bytes.Load()+need > s.cfg.MaxBytes {
		return fmt.Errorf("%w: %d bytes on disk, a batch of %d more would pass the cap of %d", ErrFull, s.bytes.Load(), recLen, s.cfg.MaxBytes)
	}
	if newSeg {
		if err := s.startSegment(); err != nil {
			return err
		}
	}
	last := &s.segs[len(s.segs)-1]
	if _, err := s.w.Write(s.buf); err != nil {
		return s.abandonSegment(fmt.Errorf("spool: write %s: %w", segName(last.seq), err))
	}
	if now := time.Now(); sync && now.Sub(s.syncedAt) >= s.cfg.SyncEvery {
		if err := s.w.Sync(); err != nil {
			return s.abandonSegment(fmt.Errorf("spool: fsync %s: %w", segName(last.seq), err))
		}
		s.syncedAt = now
	}
	last.size += recLen
	s.bytes.Add(recLen)
	s.appended.Add(1)
	return nil
}

// startSegment closes the segment being written and begins the next one.
func (s *Spool) startSegment() error {
	if s.w != nil {
		s.w.Sync() // what Append left for a later fsync, and AppendOverflow's
		s.w.Close()
		s.w = nil
	}
	seq := s.nextSeq
	path := filepath.Join(s.cfg.Dir, segName(seq))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if _, err := f.Write(magic[:]); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: new segment %s: %w", path, err)
	}
	// The file's name must survive a crash as well as its records.
	if err := syncDir(s.cfg.Dir); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: new segment %s: %w", path, err)
	}
	s.nextSeq++
	s.w = f
	s.segs = append(s.segs, segment{seq: seq, size: headerLen})
	s.bytes.Add(headerLen)
	return nil
}

// abandonSegment undoes a failed append: what was written past the last
// good record is cut off, and the next Append starts a new segment.
func (s *Spool) abandonSegment(err error) error {
	last := s.segs[len(s.segs)-1]
	if terr := s.w.Truncate(last.size); terr != nil {
		// Left as is, the reader finds a torn record past size and skips it.
		s.log.Warn("spool: could not cut a failed write off", "segment", segName(last.seq), "err", terr)
	}
	s.w.Close()
	s.w = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Next returns the oldest batch not yet committed; ok is false when there
// is none. It returns the same batch until Commit is called with it. Torn
// or damaged records on the way are counted, logged and skipped.
func (s *Spool) Next() (rec Record, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Record{}, false, errors.New("spool: read after Close")
	}
	for len(s.segs) > 0 {
		seg := s.segs[0]
		writing := s.w != nil && len(s.segs) == 1
		if s.readOff >= seg.size {
			if writing {
				return Record{}, false, nil
			}
			if err := s.dropOldest(); err != nil {
				return Record{}, false, err
			}
			continue
		}
		if s.r == nil || s.rSeq != seg.seq {
			if s.r != nil {
				s.r.Close()
			}
			if s.r, err = os.Open(filepath.Join(s.cfg.Dir, segName(seg.seq))); err != nil {
				s.r = nil
				return Record{}, false, fmt.Errorf("spool: %w", err)
			}
			s.rSeq = seg.seq
		}
		rec, ok, err := s.readRecord(seg)
		if err != nil || ok {
			return rec, ok, err
		}
	}
	return Record{}, false, nil
}

// readRecord reads the record at readOff in seg. ok=false with a nil error
// means it skipped something damaged and the caller should look again.
func (s *Spool) readRecord(seg segment) (Record, bool, error) {
	if s.readOff < headerLen {
		var m [headerLen]byte
		if _, err := s.r.ReadAt(m[:], 0); err != nil && !errors.Is(err, io.EOF) {
			return Record{}, false, fmt.Errorf("spool: read %s: %w", segName(seg.seq), err)
		}
		if m != magic {
			return Record{}, false, s.skipSegment(seg, 0, "not a spool segment of this version")
		}
		s.readOff = headerLen
		return Record{}, false, nil
	}
	if seg.size-s.readOff < recordHead {
		return Record{}, false, s.skipSegment(seg, s.readOff, "record header cut short (torn write)")
	}
	var head [recordHead]byte
	if _, err := s.r.ReadAt(head[:], s.readOff); err != nil {
		return Record{}, false, fmt.Errorf("spool: read %s at %d: %w", segName(seg.seq), s.readOff, err)
	}
	n := int64(binary.LittleEndian.Uint32(head[0:]))
	if n > maxRecord || s.readOff+recordHead+n > seg.size {
		// After a bad length nothing later in the segment can be found.
		return Record{}, false, s.skipSegment(seg, s.readOff, fmt.Sprintf("record of %d bytes runs past the end (torn write)", n))
	}
	payload := make([]byte, n) // Record.Data aliases it
	if _, err := s.r.ReadAt(payload, s.readOff+recordHead); err != nil {
		return Record{}, false, fmt.Errorf("spool: read %s at %d: %w", segName(seg.seq), s.readOff, err)
	}
	end := s.readOff + recordHead + n
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
		return Record{}, false, s.skipRecord(seg, end, "checksum mismatch")
	}
	if n < 1 {
		return Record{}, false, s.skipRecord(seg, end, "empty record")
	}
	packets, k := binary.Uvarint(payload[1:])
	if k <= 0 || packets > maxRecord {
		return Record{}, false, s.skipRecord(seg, end, "bad packet count")
	}
	mayBeStored := payload[0]&flagMayBeStored != 0 || seg.seq < s.firstSeq
	return Record{Data: payload[1+k:], Packets: int(packets), MayBeStored: mayBeStored, seq: seg.seq, end: end}, true, nil
}

// skipRecord passes over one damaged record whose length was sound.
func (s *Spool) skipRecord(seg segment, end int64, why string) error {
	s.skipped.Add(1)
	s.log.Warn("spool: damaged record skipped; its packets are lost", "segment", filepath.Join(s.cfg.Dir, segName(seg.seq)), "offset", s.readOff, "reason", why)
	s.readOff = end
	return writeCheckpoint(s.cfg.Dir, checkpoint{seq: seg.seq, off: end})
}

// skipSegment passes over the rest of seg from off.
func (s *Spool) skipSegment(seg segment, off int64, why string) error {
	s.skipped.Add(1)
	s.log.Warn("spool: rest of segment skipped", "segment", filepath.Join(s.cfg.Dir, segName(seg.seq)), "offset", off, "bytes", seg.size-off, "reason", why)
	if s.w != nil && len(s.segs) == 1 {
		// Damage in the segment being written (a failed cut after a failed
		// write): start a fresh one for what comes next.
		s.w.Close()
		s.w = nil
	}
	return s.dropOldest()
}

// Commit records that rec is in the database. A segment whose records are
// all committed is deleted.
func (s *Spool) Commit(rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.segs) == 0 || s.segs[0].seq != rec.seq || rec.end <= s.readOff {
		return nil // committed already
	}
	s.readOff = rec.end
	if s.readOff < s.segs[0].size {
		return writeCheckpoint(s.cfg.Dir, checkpoint{seq: rec.seq, off: rec.end})
	}
	if s.w != nil && len(s.segs) == 1 {
		// Everything written is in the database: the next Append starts
		// afresh, and an idle spool holds no files.
		s.w.Close()
		s.w = nil
	}
	return s.dropOldest()
}

// dropOldest deletes segs[0]: the checkpoint moves past it first, so a
// crash in between leaves a segment that Open deletes.
func (s *Spool) dropOldest() error {
	seg := s.segs[0]
	next := s.nextSeq
	if len(s.segs) > 1 {
		next = s.segs[1].seq
	}
	if err := writeCheckpoint(s.cfg.Dir, checkpoint{seq: next}); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.r != nil && s.rSeq == seg.seq {
		s.r.Close()
		s.r = nil
	}
	if err := os.Remove(filepath.Join(s.cfg.Dir, segName(seg.seq))); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.segs = s.segs[1:]
	s.readOff = 0
	s.bytes.Add(-seg.size)
	return nil
}

// Close closes the files; the spool's content stays for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.w != nil {
		err = errors.Join(s.w.Sync(), s.w.Close())
		s.w = nil
	}
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	return err
}
