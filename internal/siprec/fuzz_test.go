package siprec

import (
	"errors"
	"testing"
)

// FuzzRead holds for any message: no panic; an error wraps one of the
// sentinels and comes with Recording set and no metadata; metadata
// applies to a state without panic. Seeds: the fixture's recording
// INVITEs; crashers are kept in testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	msgs := siprecMessages(f)
	for _, tr := range loadMetadataTruth(f) {
		f.Add(msgs[tr.frame-1])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := Read(b)
		if m.Err != nil {
			if !errors.Is(m.Err, ErrXML) && !errors.Is(m.Err, ErrMultipart) && !errors.Is(m.Err, ErrNotMetadata) {
				t.Fatalf("error wraps no sentinel: %v", m.Err)
			}
			if !m.Recording || m.Metadata != nil {
				t.Fatalf("unexpected reading with error %v: recording %v, metadata %v", m.Err, m.Recording, m.Metadata)
			}
		}
		if m.Metadata != nil {
			if !m.Recording {
				t.Fatal("metadata read from a message not taken for a recording")
			}
			var s State
			s.Apply(m.Metadata)
			s.Apply(m.Metadata)
			_, _ = s.CallIDs(), s.SIPSessionIDs()
		}
	})
}
