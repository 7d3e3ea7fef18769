package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/hepvault/hepvault"
)

// DecodePackets reads an answer of GET /api/v1/packets or
// /api/v1/calls/{call_id} (JSON) back into Packets, with the next cursor
// when there is one: what a client of the API (`hepvault calls show`) needs
// to work on the packets themselves. The summary and status class, which
// the packet's other fields determine, are not read.
func DecodePackets(body []byte) ([]hepvault.Packet, string, error) {
	pkts, a, err := decodeAnswer(body)
	return pkts, a.Next, err
}

// DecodeCall reads an answer of GET /api/v1/calls/{call_id} (JSON): its
// packets and the Call-IDs of the call's other legs.
func DecodeCall(body []byte) ([]hepvault.Packet, []string, error) {
	pkts, a, err := decodeAnswer(body)
	if a.Legs == nil {
		return pkts, nil, err
	}
	return pkts, *a.Legs, err
}

func decodeAnswer(body []byte) ([]hepvault.Packet, packetsAnswer, error) {
	var a packetsAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, a, fmt.Errorf("api: reading packets: %w", err)
	}
	out := make([]hepvault.Packet, len(a.Packets))
	for i := range a.Packets {
		if err := fromJSON(&a.Packets[i], &out[i]); err != nil {
			return nil, a, fmt.Errorf("api: packet %d (id %d): %w", i, a.Packets[i].ID, err)
		}
	}
	return out, a, nil
}

func fromJSON(j *packetJSON, p *hepvault.Packet) error {
	var err error
	if p.CapturedAt, err = time.Parse(time.RFC3339Nano, j.CapturedAt); err != nil {
		return fmt.Errorf("captured_at: %w", err)
	}
	if p.ReceivedAt, err = time.Parse(time.RFC3339Nano, j.ReceivedAt); err != nil {
		return fmt.Errorf("received_at: %w", err)
	}
	p.CapturedAt, p.ReceivedAt = p.CapturedAt.UTC(), p.ReceivedAt.UTC()
	if p.SrcIP, err = decodeAddr(j.SrcIP); err != nil {
		return fmt.Errorf("src_ip: %w", err)
	}
	if p.DstIP, err = decodeAddr(j.DstIP); err != nil {
		return fmt.Errorf("dst_ip: %w", err)
	}
	var ok bool
	if p.Transport, ok = hepvault.ParseTransport(j.Transport); !ok {
		return fmt.Errorf("transport %q", j.Transport)
	}
	if p.Kind, ok = hepvault.ParseKind(j.Kind); !ok {
		return fmt.Errorf("kind %q", j.Kind)
	}
	p.ID, p.SrcPort, p.DstPort = j.ID, j.SrcPort, j.DstPort
	p.CaptureID, p.HEPVersion, p.ProtoType = j.CaptureID, j.HEPVersion, j.ProtoType
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	p.InvalidReason, p.Method, p.RequestURI, p.Reason = str(j.InvalidReason), str(j.Method), str(j.RequestURI), str(j.Reason)
	p.CallID, p.CSeqMethod = str(j.CallID), str(j.CSeqMethod)
	p.FromURI, p.FromTag, p.ToURI, p.ToTag = str(j.FromURI), str(j.FromTag), str(j.ToURI), str(j.ToTag)
	p.FromUser, p.ToUser, p.RURIUser, p.PAIUser = str(j.FromUser), str(j.ToUser), str(j.RURIUser), str(j.PAIUser)
	p.ViaBranch, p.UserAgent, p.Contact = str(j.ViaBranch), str(j.UserAgent), str(j.Contact)
	p.ContentType, p.CorrelationID = str(j.ContentType), str(j.CorrelationID)
	p.CorrelationHeader = str(j.CorrelationHeader)
	if j.StatusCode != nil {
		p.StatusCode = *j.StatusCode
	}
	if j.CSeq != nil {
		p.CSeq = *j.CSeq
	}
	// raw_base64 carries the bytes when they are not UTF-8 (raw then
	// holds them with replacement characters).
	if j.RawBase64 != "" {
		if p.Raw, err = base64.StdEncoding.DecodeString(j.RawBase64); err != nil {
			return fmt.Errorf("raw_base64: %w", err)
		}
	} else {
		p.Raw = []byte(j.Raw)
	}
	return nil
}

// decodeAddr reads an address as the API writes it; "invalid IP" (what
// netip writes for none) is none.
func decodeAddr(s string) (netip.Addr, error) {
	if s == "" || s == (netip.Addr{}).String() {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(s)
}
