package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/siprec"
)

// recordingRow is a row of recording_messages: one recording-session
// request of a batch, its metadata read as the batch is counted.
type recordingRow struct {
	callID     string
	capturedAt time.Time
	id         int64
	method     string
	cseq       uint32
	sessionID  string
	metadata   []byte // JSON; nil: none
	err        string
}

// addRecording reads p when it may be a recording-session request and
// keeps what it says. Only such requests are read (siprec.Candidate looks
// at fields already extracted); every string is copied, as p may alias a
// block being decoded.
func (c *statCounts) addRecording(p *hepvault.Packet) {
	if p.Kind != hepvault.KindRequest || !siprec.Candidate(p.Method, p.ContentType, p.Contact) {
		return
	}
	m := siprec.Read(p.Raw)
	if !m.Recording {
		return
	}
	r := recordingRow{callID: strings.Clone(cleanText(p.CallID)), capturedAt: p.CapturedAt, id: p.ID,
		method: strings.Clone(cleanText(p.Method)), cseq: p.CSeq, sessionID: cleanText(m.SessionID)}
	if m.Err != nil {
		r.err = cleanText(m.Err.Error())
	} else if m.Metadata != nil {
		b, err := json.Marshal(m.Metadata)
		if err != nil {
			r.err = "siprec: metadata: " + err.Error()
		} else {
			// jsonb refuses the escape of NUL, and a refused row would
			// fail its batch's transaction.
			r.metadata = bytes.ReplaceAll(b, []byte(`\u0000`), []byte(`\ufffd`))
		}
	}
	c.recordings = append(c.recordings, r)
}

const insertRecording = `INSERT INTO recording_messages
(call_id, captured_at, packet_id, method, cseq, session_id, metadata, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`

// params are r's parameters of insertRecording with their types and
// formats: the capture time in binary, as the blocks hold it, so that any
// time a block takes this row takes too; the rest as text.
func (r *recordingRow) params() (values [][]byte, oids []uint32, formats []int16) {
	opt := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	at := binary.BigEndian.AppendUint64(nil, uint64(r.capturedAt.UnixMicro()-pgEpoch))
	values = [][]byte{
		[]byte(r.callID), at, strconv.AppendInt(nil, r.id, 10), []byte(r.method),
		strconv.AppendUint(nil, uint64(r.cseq), 10), opt(r.sessionID), r.metadata, opt(r.err),
	}
	return values, recordingOIDs, recordingFormats
}

var (
	recordingOIDs    = []uint32{oidText, oidTimestamptz, oidInt8, oidText, oidInt8, oidText, oidJSONB, oidText}
	recordingFormats = []int16{0, 1, 0, 0, 0, 0, 0, 0}
)

// oidJSONB is PostgreSQL's jsonb type.
const oidJSONB = 3802
