package siprec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
)

// Errors of Read: the message is a recording-session request whose
// metadata could not be read.
var (
	// ErrMultipart: the body says multipart but its parts cannot be read.
	ErrMultipart = errors.New("siprec: bad multipart body")
	// ErrXML: the metadata part is not well-formed XML, or a value in it
	// (a time) is not what RFC 7865 says.
	ErrXML = errors.New("siprec: bad metadata XML")
	// ErrNotMetadata: the metadata part's root element is not recording.
	ErrNotMetadata = errors.New("siprec: metadata is not a recording element")
)

// MetadataType is the media type of recording metadata (RFC 7865 §9).
const MetadataType = "application/rs-metadata+xml"

// Message is what one SIP message says of a recording session.
type Message struct {
	// Recording: the message belongs to a recording session: it requires
	// the siprec option tag, its Contact has the +sip.src feature tag
	// (RFC 7866 §6.1.1), or it carries metadata.
	Recording bool
	// Metadata is the parsed metadata part; nil when there is none or it
	// could not be read (Err says why).
	Metadata *Metadata
	Err      error
	// SessionID is the local UUID of the Session-ID header (RFC 7989), when
	// the message has one.
	SessionID string
}

// Candidate says cheaply, from what the SIP parser already read, whether a
// request may be a recording-session request worth Read: an INVITE or
// UPDATE whose body is multipart or metadata, or whose Contact carries
// +sip.src.
//
// It is asked of every request the writer stores, so it only compares
// prefixes and looks for '+' in the Contact.
func Candidate(method, contentType, contact string) bool {
	if method != "INVITE" && method != "UPDATE" {
		return false
	}
	ct := contentType
	for len(ct) > 0 && (ct[0] == ' ' || ct[0] == '\t') {
		ct = ct[1:]
	}
	if len(ct) > 0 {
		switch ct[0] | 0x20 { // lower case
		case 'm':
			if hasPrefixFold(ct, "multipart/") {
				return true
			}
		case 'a':
			if hasPrefixFold(ct, MetadataType) {
				return true
			}
		}
	}
	for i := strings.IndexByte(contact, '+'); i >= 0; {
		if hasPrefixFold(contact[i:], "+sip.src") {
			return true
		}
		j := strings.IndexByte(contact[i+1:], '+')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// Read reads the headers and body of the SIP message raw (RFC 3261 §7).
func Read(raw []byte) Message {
	var m Message
	head, body := splitMessage(raw)
	var contentType string
	for _, line := range headerLines(head) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "require":
			for _, tag := range strings.Split(value, ",") {
				if strings.EqualFold(strings.TrimSpace(tag), "siprec") {
					m.Recording = true
				}
			}
		case "contact", "m":
			if containsFold(value, "+sip.src") {
				m.Recording = true
			}
		case "content-type", "c":
			contentType = value
		case "session-id":
			id, _, _ := strings.Cut(value, ";")
			m.SessionID = strings.ToLower(strings.TrimSpace(id))
		}
	}
	part, err := metadataPart(contentType, body)
	if err != nil {
		m.Recording, m.Err = true, err
		return m
	}
	if part == nil {
		return m
	}
	m.Recording = true
	m.Metadata, m.Err = Parse(part)
	return m
}

// metadataPart finds the metadata in a body of type contentType: the body
// itself, or the first part of that type of a multipart body (RFC 7866
// §9.1: multipart/mixed with SDP and metadata). nil when there is none.
func metadataPart(contentType string, body []byte) ([]byte, error) {
	if contentType == "" {
		return nil, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		if containsFold(contentType, "multipart/") || containsFold(contentType, "rs-metadata") {
			return nil, fmt.Errorf("%w: content type %q: %v", ErrMultipart, contentType, err)
		}
		return nil, nil
	}
	if mt == MetadataType {
		return body, nil
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return nil, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, fmt.Errorf("%w: %s without a boundary", ErrMultipart, mt)
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for n := 0; ; n++ {
		p, err := r.NextRawPart()
		if err == io.EOF {
			if n == 0 {
				return nil, fmt.Errorf("%w: no part with boundary %q", ErrMultipart, boundary)
			}
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: part %d: %v", ErrMultipart, n+1, err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get(textproto.CanonicalMIMEHeaderKey("Content-Type")))
		if pt != MetadataType {
			continue
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("%w: part %d: %v", ErrMultipart, n+1, err)
		}
		return b, nil
	}
}

// splitMessage cuts raw at the empty line that ends its headers; a bare LF
// ends lines as well as CRLF.
func splitMessage(raw []byte) (head string, body []byte) {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(raw) && raw[i+1] == '\n':
			return string(raw[:i]), raw[i+2:]
		case i+2 < len(raw) && raw[i+1] == '\r' && raw[i+2] == '\n':
			return string(raw[:i]), raw[i+3:]
		}
	}
	return string(raw), nil
}

// headerLines returns the header lines of head after the start line,
// folded lines joined (RFC 3261 §7.3.1).
func headerLines(head string) []string {
	var lines []string
	for i, l := range strings.Split(head, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if i == 0 {
			continue
		}
		if len(lines) > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			lines[len(lines)-1] += " " + strings.TrimSpace(l)
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
