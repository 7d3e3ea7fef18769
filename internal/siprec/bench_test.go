package siprec

import "testing"

// BenchmarkRead: a recording INVITE of the fixture (multipart SDP and
// complete metadata), read as the store's writer reads it once per
// recording-session request.
func BenchmarkRead(b *testing.B) {
	msg := siprecMessages(b)[loadMetadataTruth(b)[0].frame-1]
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if m := Read(msg); m.Metadata == nil {
			b.Fatal(m.Err)
		}
	}
}

// BenchmarkCandidate: what every other request costs the writer.
func BenchmarkCandidate(b *testing.B) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if Candidate("INVITE", "application/sdp", "<sip:alice@10.0.0.1:5060;transport=udp>") {
			n++
		}
	}
	if n != 0 {
		b.Fatal("an ordinary INVITE taken for a recording")
	}
}
