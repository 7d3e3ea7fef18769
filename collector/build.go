package collector

import (
	"time"
	"unsafe"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/hep"
	"github.com/hepvault/hepvault/collector/sip"
)

// build turns a decoded HEP packet and its parsed SIP message (both aliasing
// the read buffer) into a Packet that owns its memory. The payload is copied
// once; the header fields are strings over that copy, which nothing writes
// to again, so a packet costs one allocation for all its bytes; only a
// folded value Parse joined (one more) and a user with %XX escapes to decode
// (two more: the decoded bytes and their string) are copied apart.
func build(hp *hep.Packet, m *sip.Message, parseErr error, recv time.Time, id int64) hepvault.Packet {
	raw := make([]byte, len(hp.Payload))
	copy(raw, hp.Payload)
	sub := func(b []byte) string { return substr(hp.Payload, raw, b) }

	p := hepvault.Packet{
		ID:            id,
		CapturedAt:    recv,
		ReceivedAt:    recv,
		CaptureID:     hp.CaptureID,
		HEPVersion:    hp.Version,
		ProtoType:     hp.ProtoType,
		CorrelationID: string(hp.CorrelationID),
		SrcIP:         hp.SrcIP.Unmap(),
		SrcPort:       hp.SrcPort,
		DstIP:         hp.DstIP.Unmap(),
		DstPort:       hp.DstPort,
		Transport:     hepvault.Transport(hp.Proto),
		Raw:           raw,
	}
	if hp.TsSec != 0 || hp.TsUsec != 0 {
		p.CapturedAt = hp.Time()
	}
	if parseErr != nil {
		p.Kind = hepvault.KindInvalid
		p.InvalidReason = parseErr.Error()
	} else {
		p.Kind = m.Kind
	}
	// What was parsed is kept even for an invalid message: a request whose
	// headers are broken still shows its method.
	p.Method, p.RequestURI = sub(m.Method), sub(m.RequestURI)
	p.StatusCode, p.Reason = m.StatusCode, sub(m.Reason)
	p.CallID, p.CSeq, p.CSeqMethod = sub(m.CallID), m.CSeqNum, sub(m.CSeqMethod)
	p.FromURI, p.FromTag, p.ToURI, p.ToTag = sub(m.FromURI), sub(m.FromTag), sub(m.ToURI), sub(m.ToTag)
	// A user is a substring of its URI, so of raw, unless it had escapes to
	// decode: sub then copies the decoded bytes into a string of their own.
	user := func(uri []byte) string { return sub(sip.URIUser(uri)) }
	p.FromUser, p.ToUser = user(m.FromURI), user(m.ToURI)
	p.RURIUser, p.PAIUser = user(m.RequestURI), user(m.PAIURI)
	p.ViaBranch, p.UserAgent = sub(m.ViaBranch), sub(m.UserAgent)
	p.Contact, p.ContentType = sub(m.Contact), sub(m.ContentType)
	p.CorrelationHeader = sub(m.Correlation)
	return p
}

// substr returns b as a string over copy, the copy of orig; b must lie in
// orig to be shared, otherwise (a folded header joined elsewhere) it is copied.
func substr(orig, copy, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(orig)))
	if start < uintptr(len(orig)) && start+uintptr(len(b)) <= uintptr(len(orig)) {
		return unsafe.String(&copy[start], len(b))
	}
	return string(b)
}
