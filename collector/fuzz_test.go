package collector

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/internal/badinput"
	"github.com/hepvault/hepvault/internal/fixture"
)

// FuzzHandle drives the whole decode path, HEP bytes to queued Packet, and
// checks that every input is accounted for exactly once (queued, or dropped
// for one reason) and that a queued packet owns its bytes.
func FuzzHandle(f *testing.F) {
	for i, r := range fixture.Load(f, fixture.HEP3) {
		if i%20 == 0 {
			f.Add(r.Datagram)
		}
	}
	for _, tc := range badinput.Cases() {
		f.Add(tc.HEP)
	}
	c := New(Config{QueueSize: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := &worker{c: c}
	f.Fuzz(func(t *testing.T, in []byte) {
		buf := bytes.Clone(in) // the engine's input must stay as it is
		m := c.Metrics()
		queued, dropped, invalid := m.Queued.Load(), m.DroppedTotal(), m.InvalidSIP.Load()
		w.handle(buf, time.Now())
		dq, dd := m.Queued.Load()-queued, m.DroppedTotal()-dropped
		if dq+dd != 1 {
			t.Fatalf("input counted %d times (queued %d, dropped %d); want once", dq+dd, dq, dd)
		}
		if dq == 0 {
			return
		}
		p := <-c.queue
		var dec hep.Decoder
		var hp hep.Packet
		if err := dec.Decode(buf, &hp); err != nil {
			t.Fatalf("queued a packet the decoder refuses: %v", err)
		}
		if !bytes.Equal(p.Raw, hp.Payload) {
			t.Fatalf("raw payload is not the HEP payload")
		}
		if (p.Kind == hepvault.KindInvalid) != (p.InvalidReason != "") || (p.Kind == hepvault.KindInvalid) != (m.InvalidSIP.Load() == invalid+1) {
			t.Fatalf("kind %s with invalid reason %q, invalid_sip +%d", p.Kind, p.InvalidReason, m.InvalidSIP.Load()-invalid)
		}
		if p.Kind == hepvault.KindResponse && (p.StatusCode < 100 || p.StatusCode > 699) {
			t.Fatalf("response with status %d", p.StatusCode)
		}
		// The packet outlives the read buffer: scribbling over it must not
		// change a single field.
		before := fields(p)
		raw := bytes.Clone(p.Raw)
		for i := range buf {
			buf[i] ^= 0xa5
		}
		if after := fields(p); after != before || !bytes.Equal(raw, p.Raw) {
			t.Fatalf("packet aliases the read buffer;\nbefore %q\nafter  %q", before, after)
		}
	})
}

func fields(p hepvault.Packet) string {
	return strings.Join([]string{p.Method, p.RequestURI, p.Reason, p.CallID, p.CSeqMethod, p.FromURI, p.FromTag,
		p.ToURI, p.ToTag, p.FromUser, p.ToUser, p.RURIUser, p.PAIUser, p.ViaBranch, p.UserAgent, p.Contact, p.ContentType,
		p.CorrelationID, p.InvalidReason}, "|")
}
