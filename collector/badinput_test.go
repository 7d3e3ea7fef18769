package collector

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/badinput"
)

// TestHandle_BadInput runs every malformed input of the shared table
// through the decode path: each is refused with its counted reason, or
// queued (as invalid, or as the odd but valid SIP it is) with its payload
// byte for byte.
func TestHandle_BadInput(t *testing.T) {
	cases := badinput.Cases()
	if len(cases) < 30 {
		t.Fatalf("only %d malformed inputs; want at least 30", len(cases))
	}
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.Name] {
			t.Fatalf("case %q twice", tc.Name)
		}
		names[tc.Name] = true
		t.Run(tc.Name, func(t *testing.T) {
			c := New(Config{QueueSize: 1})
			w := &worker{c: c}
			w.handle(tc.HEP, time.Now())
			m := c.Metrics()
			if !tc.Stored() {
				for r := Reason(0); r < numReasons; r++ {
					want := uint64(0)
					if r.String() == tc.Reason {
						want = 1
					}
					if got := m.Dropped(r); got != want {
						t.Fatalf("unexpected %s count; got %d; want %d (expected reason %s)", r, got, want, tc.Reason)
					}
				}
				if m.Queued.Load() != 0 || len(c.queue) != 0 {
					t.Fatal("a refused packet was queued")
				}
				return
			}
			if m.DroppedTotal() != 0 || m.Queued.Load() != 1 {
				t.Fatalf("unexpected counts; dropped %d, queued %d; want 0 and 1", m.DroppedTotal(), m.Queued.Load())
			}
			p := <-c.queue
			if !bytes.Equal(p.Raw, tc.Raw) {
				t.Fatalf("raw payload differs; got %d bytes %q; want %d bytes", len(p.Raw), clipped(p.Raw), len(tc.Raw))
			}
			if p.CaptureID != tc.CaptureID {
				t.Fatalf("unexpected capture id; got %d; want %d", p.CaptureID, tc.CaptureID)
			}
			if tc.Invalid == "" {
				if p.Kind == hepvault.KindInvalid || m.InvalidSIP.Load() != 0 {
					t.Fatalf("unexpected kind; got %s (%s); want a valid request or response", p.Kind, p.InvalidReason)
				}
				return
			}
			if p.Kind != hepvault.KindInvalid || !strings.Contains(p.InvalidReason, tc.Invalid) || m.InvalidSIP.Load() != 1 {
				t.Fatalf("unexpected classification; got %s %q (invalid_sip %d); want invalid with %q", p.Kind, p.InvalidReason, m.InvalidSIP.Load(), tc.Invalid)
			}
		})
	}
}

func clipped(b []byte) []byte { return b[:min(len(b), 60)] }
