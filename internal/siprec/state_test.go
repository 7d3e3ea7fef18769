package siprec

import (
	"slices"
	"testing"
)

// TestState_Fixture applies each recording's documents in order, as the
// store does: the supervisor of the re-INVITE's partial update joins the
// two parties of the complete document, and the third stream the first two.
func TestState_Fixture(t *testing.T) {
	msgs := siprecMessages(t)
	states := map[string]*State{}
	seen := map[string]bool{} // each message is on the wire twice: to and from the proxy
	for _, tr := range loadMetadataTruth(t) {
		key := tr.callID + "/" + string(rune('0'+tr.cseq))
		if seen[key] {
			continue
		}
		seen[key] = true
		if states[tr.callID] == nil {
			states[tr.callID] = &State{}
		}
		states[tr.callID].Apply(Read(msgs[tr.frame-1]).Metadata)
	}
	if len(states) != 3 {
		t.Fatalf("unexpected recordings; got %d; want 3", len(states))
	}
	for id, s := range states {
		var aors, labels []string
		for _, p := range s.Participants {
			aors = append(aors, p.AOR)
		}
		for _, st := range s.Streams {
			labels = append(labels, st.Label)
		}
		if len(aors) != 3 || aors[0] != "sip:sipp@127.0.0.1" || aors[2] != "sip:supervisor@127.0.0.1" {
			t.Fatalf("%s: unexpected participants; got %q; want sipp, the callee, supervisor", id, aors)
		}
		if !slices.Equal(labels, []string{"1", "2", "3"}) {
			t.Fatalf("%s: unexpected labels; got %q; want 1, 2, 3", id, labels)
		}
		if len(s.ParticipantAssocs) != 3 || len(s.Sessions) != 1 {
			t.Fatalf("%s: unexpected state: %d participant associations, %d sessions; want 3 and 1", id, len(s.ParticipantAssocs), len(s.Sessions))
		}
	}
}

func TestState_PartialReplaces(t *testing.T) {
	var s State
	s.Apply(&Metadata{Participants: []Participant{{ID: "p", AOR: "sip:a@h", Name: "A"}}, Streams: []Stream{{ID: "s", Label: "1"}}})
	s.Apply(&Metadata{DataMode: "partial", Participants: []Participant{{ID: "p", Name: "Alice"}}, Streams: []Stream{{ID: "s", Label: "7"}}})
	if p := s.Participants[0]; p.AOR != "sip:a@h" || p.Name != "Alice" || s.Streams[0].Label != "7" || len(s.Participants) != 1 {
		t.Fatalf("unexpected state after a partial update; got %+v %+v", s.Participants, s.Streams)
	}
}

func TestAORUser(t *testing.T) {
	f := func(aor, want string) {
		t.Helper()
		if got := AORUser(aor); got != want {
			t.Fatalf("unexpected AORUser(%q); got %q; want %q", aor, got, want)
		}
	}
	f("sip:sipp@127.0.0.1", "sipp")
	f("sips:alice:pw@example.com;transport=tls", "alice")
	f("<sip:bob@example.com>", "bob")
	f("tel:+49-30-7741528;phone-context=x", "+49-30-7741528")
	f("SIP:carol@h", "carol")
	f("sip:example.com", "")
}
