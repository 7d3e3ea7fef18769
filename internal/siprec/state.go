package siprec

import (
	"slices"
	"time"
)

// State is what a recording session's metadata says once every document
// sent in it is applied in order: complete documents and the partial
// updates after them (RFC 7865 §6.2). Elements are kept in the order they
// first appeared; a later document's values replace earlier ones of the
// same id, and what it leaves empty stays.
type State struct {
	Groups            []Group
	Sessions          []Session
	Participants      []Participant
	Streams           []Stream
	SessionAssocs     []SessionAssoc
	ParticipantAssocs []ParticipantAssoc
	StreamAssocs      []StreamAssoc
}

// Apply applies one document.
func (s *State) Apply(md *Metadata) {
	if md == nil {
		return
	}
	for _, g := range md.Groups {
		at := index(s.Groups, func(o Group) bool { return o.ID == g.ID })
		if at < 0 {
			s.Groups = append(s.Groups, g)
			continue
		}
		o := &s.Groups[at]
		o.AssociateTime = orTime(g.AssociateTime, o.AssociateTime)
		o.DisassociateTime = orTime(g.DisassociateTime, o.DisassociateTime)
	}
	for _, cs := range md.Sessions {
		at := index(s.Sessions, func(o Session) bool { return o.ID == cs.ID })
		if at < 0 {
			s.Sessions = append(s.Sessions, cs)
			continue
		}
		o := &s.Sessions[at]
		o.GroupRef = orString(cs.GroupRef, o.GroupRef)
		o.SIPSessionIDs = union(o.SIPSessionIDs, cs.SIPSessionIDs)
		o.CallIDs = union(o.CallIDs, cs.CallIDs)
		o.StartTime = orTime(cs.StartTime, o.StartTime)
		o.StopTime = orTime(cs.StopTime, o.StopTime)
	}
	for _, p := range md.Participants {
		at := index(s.Participants, func(o Participant) bool { return o.ID == p.ID })
		if at < 0 {
			s.Participants = append(s.Participants, p)
			continue
		}
		o := &s.Participants[at]
		o.AOR, o.Name = orString(p.AOR, o.AOR), orString(p.Name, o.Name)
	}
	for _, st := range md.Streams {
		at := index(s.Streams, func(o Stream) bool { return o.ID == st.ID })
		if at < 0 {
			s.Streams = append(s.Streams, st)
			continue
		}
		o := &s.Streams[at]
		o.Session, o.Label = orString(st.Session, o.Session), orString(st.Label, o.Label)
	}
	for _, a := range md.SessionAssocs {
		at := index(s.SessionAssocs, func(o SessionAssoc) bool { return o.Session == a.Session })
		if at < 0 {
			s.SessionAssocs = append(s.SessionAssocs, a)
			continue
		}
		o := &s.SessionAssocs[at]
		o.AssociateTime = orTime(a.AssociateTime, o.AssociateTime)
		o.DisassociateTime = orTime(a.DisassociateTime, o.DisassociateTime)
	}
	for _, a := range md.ParticipantAssocs {
		at := index(s.ParticipantAssocs, func(o ParticipantAssoc) bool {
			return o.Participant == a.Participant && o.Session == a.Session
		})
		if at < 0 {
			s.ParticipantAssocs = append(s.ParticipantAssocs, a)
			continue
		}
		o := &s.ParticipantAssocs[at]
		o.AssociateTime = orTime(a.AssociateTime, o.AssociateTime)
		o.DisassociateTime = orTime(a.DisassociateTime, o.DisassociateTime)
	}
	for _, a := range md.StreamAssocs {
		at := index(s.StreamAssocs, func(o StreamAssoc) bool { return o.Participant == a.Participant })
		if at < 0 {
			s.StreamAssocs = append(s.StreamAssocs, a)
			continue
		}
		o := &s.StreamAssocs[at]
		o.Send, o.Recv = union(o.Send, a.Send), union(o.Recv, a.Recv)
	}
}

// CallIDs are the Call-IDs the sessions name, in order, once each.
func (s *State) CallIDs() []string {
	var ids []string
	for _, cs := range s.Sessions {
		ids = union(ids, cs.CallIDs)
	}
	return ids
}

// SIPSessionIDs are the local UUIDs of the sessions' Session-IDs (the part
// before ";remote="), lower-cased, once each.
func (s *State) SIPSessionIDs() []string {
	var ids []string
	for _, cs := range s.Sessions {
		for _, v := range cs.SIPSessionIDs {
			local := v
			for i := 0; i < len(v); i++ {
				if v[i] == ';' {
					local = v[:i]
					break
				}
			}
			ids = union(ids, []string{lower(local)})
		}
	}
	return ids
}

func index[T any](s []T, match func(T) bool) int { return slices.IndexFunc(s, match) }

func orString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func orTime(a, b *time.Time) *time.Time {
	if a != nil {
		return a
	}
	return b
}

func union(a, b []string) []string {
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	return a
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// AORUser is the user part of a participant's address of record
// ("sip:+49 30 123@example.com" gives "+49 30 123"; a tel: URI its
// number), for matching it against the users of a call.
func AORUser(aor string) string {
	s := aor
	if i := indexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := indexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(scheme) && lower(s[:len(scheme)]) == scheme {
			s = s[len(scheme):]
			if scheme == "tel:" {
				if i := indexByte(s, ';'); i >= 0 {
					s = s[:i]
				}
				return s
			}
			break
		}
	}
	at := -1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			at = i
			break
		}
	}
	if at < 0 {
		return ""
	}
	s = s[:at]
	if i := indexByte(s, ':'); i >= 0 {
		s = s[:i] // user:password
	}
	if i := indexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return s
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
