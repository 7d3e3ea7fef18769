package siprec

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Metadata is one metadata document of RFC 7865 as sent: complete, or a
// partial update of what earlier documents of the recording session said
// (DataMode "partial", §6.2). It is stored as JSON; its field names are
// the store's format.
type Metadata struct {
	DataMode     string        `json:"data_mode,omitempty"`
	Groups       []Group       `json:"groups,omitempty"`
	Sessions     []Session     `json:"sessions,omitempty"`
	Participants []Participant `json:"participants,omitempty"`
	Streams      []Stream      `json:"streams,omitempty"`
	// The associations of §6.7 to §6.10, with their times.
	SessionAssocs     []SessionAssoc     `json:"session_assocs,omitempty"`
	ParticipantAssocs []ParticipantAssoc `json:"participant_assocs,omitempty"`
	StreamAssocs      []StreamAssoc      `json:"stream_assocs,omitempty"`
}

// Group is a communication session group (§6.3).
type Group struct {
	ID               string     `json:"id"`
	AssociateTime    *time.Time `json:"associate_time,omitempty"`
	DisassociateTime *time.Time `json:"disassociate_time,omitempty"`
}

// Session is a communication session: a recorded call (§6.4).
type Session struct {
	ID       string `json:"id"`
	GroupRef string `json:"group_ref,omitempty"`
	// SIPSessionIDs are the Session-ID values of the call (RFC 7989), as
	// given: "local-uuid;remote=remote-uuid".
	SIPSessionIDs []string `json:"sip_session_ids,omitempty"`
	// CallIDs are the call's SIP Call-IDs, when the SRC gives them in an
	// extension element named callid, call-id or call_id.
	CallIDs   []string   `json:"call_ids,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	StopTime  *time.Time `json:"stop_time,omitempty"`
}

// Participant is a party of a session (§6.5).
type Participant struct {
	ID   string `json:"id"`
	AOR  string `json:"aor,omitempty"`
	Name string `json:"name,omitempty"`
}

// Stream is a recorded media stream, with the label of its SDP media line
// in the recording session (§6.6, RFC 4574).
type Stream struct {
	ID      string `json:"id"`
	Session string `json:"session,omitempty"`
	Label   string `json:"label,omitempty"`
}

// SessionAssoc is when a session joined and left the recording (§6.7).
type SessionAssoc struct {
	Session          string     `json:"session"`
	AssociateTime    *time.Time `json:"associate_time,omitempty"`
	DisassociateTime *time.Time `json:"disassociate_time,omitempty"`
}

// ParticipantAssoc is when a participant joined and left a session (§6.9).
type ParticipantAssoc struct {
	Participant      string     `json:"participant"`
	Session          string     `json:"session"`
	AssociateTime    *time.Time `json:"associate_time,omitempty"`
	DisassociateTime *time.Time `json:"disassociate_time,omitempty"`
}

// StreamAssoc is which streams a participant sends and receives (§6.10).
type StreamAssoc struct {
	Participant string   `json:"participant"`
	Send        []string `json:"send,omitempty"`
	Recv        []string `json:"recv,omitempty"`
}

// The document as encoding/xml reads it. Names match the local name
// whatever the namespace. The attribute names of RFC 7865 (session_id,
// participant_id, ...) are read, and the id of the drafts some SRCs still
// send.
type xmlRecording struct {
	XMLName      xml.Name
	DataMode     string           `xml:"datamode"`
	DataMode2    string           `xml:"dataMode"`
	Groups       []xmlGroup       `xml:"group"`
	Sessions     []xmlSession     `xml:"session"`
	Participants []xmlParticipant `xml:"participant"`
	Streams      []xmlStream      `xml:"stream"`
	SRAssocs     []xmlSRAssoc     `xml:"sessionrecordingassoc"`
	PSAssocs     []xmlPSAssoc     `xml:"participantsessionassoc"`
	PStAssocs    []xmlPStAssoc    `xml:"participantstreamassoc"`
}

type xmlTimes struct {
	Associate    string `xml:"associate-time"`
	Disassociate string `xml:"disassociate-time"`
}

type xmlGroup struct {
	ID  string `xml:"group_id,attr"`
	ID2 string `xml:"id,attr"`
	xmlTimes
}

type xmlSession struct {
	ID       string   `xml:"session_id,attr"`
	ID2      string   `xml:"id,attr"`
	SIPIDs   []string `xml:"sipSessionID"`
	GroupRef string   `xml:"group-ref"`
	Start    string   `xml:"start-time"`
	Stop     string   `xml:"stop-time"`
	Inner    []byte   `xml:",innerxml"`
}

type xmlParticipant struct {
	ID     string `xml:"participant_id,attr"`
	ID2    string `xml:"id,attr"`
	NameID struct {
		AOR  string `xml:"aor,attr"`
		Name string `xml:"name"`
	} `xml:"nameID"`
	AOR  string `xml:"aor"`
	Name string `xml:"name"`
}

type xmlStream struct {
	ID      string `xml:"stream_id,attr"`
	ID2     string `xml:"id,attr"`
	Session string `xml:"session_id,attr"`
	Sess2   string `xml:"session,attr"`
	Label   string `xml:"label"`
}

type xmlSRAssoc struct {
	Session string `xml:"session_id,attr"`
	xmlTimes
}

type xmlPSAssoc struct {
	Participant string `xml:"participant_id,attr"`
	Session     string `xml:"session_id,attr"`
	xmlTimes
}

type xmlPStAssoc struct {
	Participant string   `xml:"participant_id,attr"`
	Send        []string `xml:"send"`
	Recv        []string `xml:"recv"`
}

// Parse reads one metadata document (RFC 7865 §6). Elements it does not
// know are skipped; ids and values are trimmed.
func Parse(doc []byte) (*Metadata, error) {
	var x xmlRecording
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrXML, err)
	}
	if x.XMLName.Local != "recording" {
		return nil, fmt.Errorf("%w: root element %q", ErrNotMetadata, x.XMLName.Local)
	}
	// Anything but whitespace or comments after the root is not XML.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: after the root: %v", ErrXML, err)
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, fmt.Errorf("%w: text after the root element", ErrXML)
			}
		default:
			return nil, fmt.Errorf("%w: a second root element", ErrXML)
		}
	}
	var tp timeParser
	md := &Metadata{DataMode: strings.TrimSpace(first(x.DataMode, x.DataMode2))}
	for _, g := range x.Groups {
		md.Groups = append(md.Groups, Group{ID: first(g.ID, g.ID2),
			AssociateTime: tp.parse(g.Associate), DisassociateTime: tp.parse(g.Disassociate)})
	}
	for _, s := range x.Sessions {
		cs := Session{ID: first(s.ID, s.ID2), GroupRef: strings.TrimSpace(s.GroupRef),
			StartTime: tp.parse(s.Start), StopTime: tp.parse(s.Stop)}
		for _, id := range s.SIPIDs {
			if id = strings.TrimSpace(id); id != "" {
				cs.SIPSessionIDs = append(cs.SIPSessionIDs, id)
			}
		}
		cs.CallIDs = callIDs(s.Inner)
		md.Sessions = append(md.Sessions, cs)
	}
	for _, p := range x.Participants {
		md.Participants = append(md.Participants, Participant{ID: first(p.ID, p.ID2),
			AOR: first(p.NameID.AOR, p.AOR), Name: first(p.NameID.Name, p.Name)})
	}
	for _, s := range x.Streams {
		md.Streams = append(md.Streams, Stream{ID: first(s.ID, s.ID2), Session: first(s.Session, s.Sess2),
			Label: strings.TrimSpace(s.Label)})
	}
	for _, a := range x.SRAssocs {
		md.SessionAssocs = append(md.SessionAssocs, SessionAssoc{Session: strings.TrimSpace(a.Session),
			AssociateTime: tp.parse(a.Associate), DisassociateTime: tp.parse(a.Disassociate)})
	}
	for _, a := range x.PSAssocs {
		md.ParticipantAssocs = append(md.ParticipantAssocs, ParticipantAssoc{
			Participant: strings.TrimSpace(a.Participant), Session: strings.TrimSpace(a.Session),
			AssociateTime: tp.parse(a.Associate), DisassociateTime: tp.parse(a.Disassociate)})
	}
	for _, a := range x.PStAssocs {
		md.StreamAssocs = append(md.StreamAssocs, StreamAssoc{Participant: strings.TrimSpace(a.Participant),
			Send: trimAll(a.Send), Recv: trimAll(a.Recv)})
	}
	if tp.err != nil {
		return nil, tp.err
	}
	return md, nil
}

// callIDs finds the text of extension elements named callid, call-id or
// call_id (any case, any namespace) inside a session element.
func callIDs(inner []byte) []string {
	if !bytes.Contains(bytes.ToLower(inner), []byte("call")) {
		return nil
	}
	var ids []string
	d := xml.NewDecoder(bytes.NewReader(inner))
	depth, at := 0, -1 // at: the depth of the open callid element
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return ids // the whole document parsed: inner is well-formed
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch strings.ToLower(t.Name.Local) {
			case "callid", "call-id", "call_id":
				if at < 0 {
					at = depth
					text.Reset()
				}
			}
		case xml.CharData:
			if at >= 0 {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == at {
				if id := strings.TrimSpace(text.String()); id != "" {
					ids = append(ids, id)
				}
				at = -1
			}
			depth--
		}
	}
}

// timeParser reads xs:dateTime values and keeps the first error.
type timeParser struct{ err error }

// Layouts of xs:dateTime: with a zone, or without one (taken as UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

func (tp *timeParser) parse(s string) *time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			t = t.UTC()
			return &t
		}
	}
	if tp.err == nil {
		tp.err = fmt.Errorf("%w: time %q is not an xs:dateTime", ErrXML, truncate(s, 40))
	}
	return nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func trimAll(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
