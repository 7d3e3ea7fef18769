package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// magic opens every segment; its last byte is the format version.
var magic = [8]byte{'H', 'V', 'S', 'P', 'O', 'O', 'L', 1}

const (
	headerLen = int64(len(magic))
	// recordHead is the length and CRC in front of each payload.
	recordHead = 8
	// maxRecord bounds a record's length field: a larger one is damage.
	maxRecord = 1 << 30
	segSuffix = ".seg"
	cpName    = "checkpoint"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segment is one file of the spool.
type segment struct {
	seq  uint64
	size int64 // bytes on disk; for the segment being written, what was written
}

func segName(seq uint64) string { return fmt.Sprintf("%016d%s", seq, segSuffix) }

// listSegments returns the segments in dir, oldest first.
func listSegments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue // not ours
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		segs = append(segs, segment{seq: seq, size: fi.Size()})
	}
	slices.SortFunc(segs, func(a, b segment) int { return compareU64(a.seq, b.seq) })
	return segs, nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendRecord frames payload as a record: length, CRC-32C, payload.
func appendRecord(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// checkpoint is where reading resumes: the oldest record not committed.
type checkpoint struct {
	seq uint64
	off int64
}

// writeCheckpoint replaces the checkpoint file atomically (write, rename).
// It does not fsync; see the package doc for why that is safe.
func writeCheckpoint(dir string, cp checkpoint) error {
	b := binary.LittleEndian.AppendUint64(nil, cp.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(cp.off))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	tmp := filepath.Join(dir, cpName+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, cpName))
}

// errBadCheckpoint: the file exists but is damaged.
var errBadCheckpoint = errors.New("spool: checkpoint file damaged")

// readCheckpoint returns the checkpoint, ok=false when there is none.
func readCheckpoint(dir string) (checkpoint, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, cpName))
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, err
	}
	if len(b) != 20 || crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return checkpoint{}, false, errBadCheckpoint
	}
	return checkpoint{seq: binary.LittleEndian.Uint64(b), off: int64(binary.LittleEndian.Uint64(b[8:]))}, true, nil
}
