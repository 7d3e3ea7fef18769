package siprec

import (
	"slices"
	"strings"
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
	merge(&s.Groups, md.Groups, func(o, n *Group) bool { return o.ID == n.ID }, func(o, n *Group) {
		o.AssociateTime = orTime(n.AssociateTime, o.AssociateTime)
		o.DisassociateTime = orTime(n.DisassociateTime, o.DisassociateTime)
	})
	merge(&s.Sessions, md.Sessions, func(o, n *Session) bool { return o.ID == n.ID }, func(o, n *Session) {
		o.GroupRef = orString(n.GroupRef, o.GroupRef)
		o.SIPSessionIDs = union(o.SIPSessionIDs, n.SIPSessionIDs)
		o.CallIDs = union(o.CallIDs, n.CallIDs)
		o.StartTime = orTime(n.StartTime, o.StartTime)
		o.StopTime = orTime(n.StopTime, o.StopTime)
	})
	merge(&s.Participants, md.Participants, func(o, n *Participant) bool { return o.ID == n.ID }, func(o, n *Participant) {
		o.AOR, o.Name = orString(n.AOR, o.AOR), orString(n.Name, o.Name)
	})
	merge(&s.Streams, md.Streams, func(o, n *Stream) bool { return o.ID == n.ID }, func(o, n *Stream) {
		o.Session, o.Label = orString(n.Session, o.Session), orString(n.Label, o.Label)
	})
	merge(&s.SessionAssocs, md.SessionAssocs, func(o, n *SessionAssoc) bool { return o.Session == n.Session }, func(o, n *SessionAssoc) {
		o.AssociateTime = orTime(n.AssociateTime, o.AssociateTime)
		o.DisassociateTime = orTime(n.DisassociateTime, o.DisassociateTime)
	})
	merge(&s.ParticipantAssocs, md.ParticipantAssocs, func(o, n *ParticipantAssoc) bool {
		return o.Participant == n.Participant && o.Session == n.Session
	}, func(o, n *ParticipantAssoc) {
		o.AssociateTime = orTime(n.AssociateTime, o.AssociateTime)
		o.DisassociateTime = orTime(n.DisassociateTime, o.DisassociateTime)
	})
	merge(&s.StreamAssocs, md.StreamAssocs, func(o, n *StreamAssoc) bool { return o.Participant == n.Participant }, func(o, n *StreamAssoc) {
		o.Send, o.Recv = union(o.Send, n.Send), union(o.Recv, n.Recv)
	})
}

// merge applies the elements of from to into: one that no element of into
// is the same as is appended; else update folds it into that element.
func merge[T any](into *[]T, from []T, same func(o, n *T) bool, update func(o, n *T)) {
	for i := range from {
		n := &from[i]
		at := slices.IndexFunc(*into, func(o T) bool { return same(&o, n) })
		if at < 0 {
			*into = append(*into, *n)
			continue
		}
		update(&(*into)[at], n)
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
			local, _, _ := strings.Cut(v, ";")
			ids = union(ids, []string{strings.ToLower(local)})
		}
	}
	return ids
}

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

// AORUser is the user part of a participant's address of record
// ("sip:+49 30 123@example.com" gives "+49 30 123"; a tel: URI its
// number), for matching it against the users of a call.
func AORUser(aor string) string {
	s := aor
	if _, in, ok := strings.Cut(s, "<"); ok {
		s, _, _ = strings.Cut(in, ">")
	}
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			if scheme == "tel:" {
				s, _, _ = strings.Cut(s, ";")
				return s
			}
			break
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ""
	}
	s, _, _ = strings.Cut(s[:at], ":") // user:password
	s, _, _ = strings.Cut(s, ";")
	return s
}
