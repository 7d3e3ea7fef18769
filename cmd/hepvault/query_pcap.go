package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/pcapout"
)

// The API's default and largest page.
const (
	defaultLimit = 100
	maxPage      = 10000
)

// pcapPacket is what a pcap frame needs of a packet in the API's JSON.
type pcapPacket struct {
	CapturedAt string `json:"captured_at"`
	SrcIP      string `json:"src_ip"`
	SrcPort    uint16 `json:"src_port"`
	DstIP      string `json:"dst_ip"`
	DstPort    uint16 `json:"dst_port"`
	Transport  string `json:"transport"`
	Raw        string `json:"raw"`
	RawBase64  string `json:"raw_base64"`
}

// queryPcap writes the first limit packets matching q to one pcap file,
// asking the API for them a page at a time. It reads the JSON pages rather
// than format=pcap ones so that a single pcapout.Writer numbers each TCP
// flow's bytes across pages. The file appears only when every page has
// been read (written to a temporary file beside it, then renamed); "-"
// writes to stdout.
func queryPcap(ctx context.Context, base string, q url.Values, token string, limit, page int, file string, stdout, stderr io.Writer) (err error) {
	out := stdout
	var tmp *os.File
	if file != "-" {
		tmp, err = os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.part")
		if err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
		defer func() {
			if err != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		out = tmp
	}
	w, err := pcapout.NewWriter(out)
	if err != nil {
		return err
	}
	n, next := 0, ""
	for n < limit {
		q.Set("limit", strconv.Itoa(min(page, limit-n)))
		body, err := get(ctx, base+"/api/v1/packets?"+q.Encode(), token)
		if err != nil {
			return err
		}
		var ans struct {
			Packets []pcapPacket `json:"packets"`
			Next    string       `json:"next"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			return fmt.Errorf("hepvault answered with something that is not its JSON: %w", err)
		}
		for i := range ans.Packets {
			p, err := ans.Packets[i].packet()
			if err != nil {
				return fmt.Errorf("packet %d of the answer: %w", n+i+1, err)
			}
			if err := w.Write(&p); err != nil {
				return fmt.Errorf("--pcap: %w", err)
			}
		}
		n += len(ans.Packets)
		next = ans.Next
		if next == "" || len(ans.Packets) == 0 {
			break
		}
		q.Set("cursor", next)
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
		if err := os.Rename(tmp.Name(), file); err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
	}
	fmt.Fprintf(stderr, "wrote %d packets to %s\n", n, file)
	if next != "" {
		fmt.Fprintf(stderr, "(more packets follow: raise --limit, or add --cursor %s to the query)\n", next)
	}
	return nil
}

// packet turns the API's JSON back into what a frame needs. An address
// the API could not give ("invalid IP") stays missing: pcapout writes a
// placeholder.
func (j *pcapPacket) packet() (hepvault.Packet, error) {
	var p hepvault.Packet
	t, err := time.Parse(time.RFC3339Nano, j.CapturedAt)
	if err != nil {
		return p, fmt.Errorf("captured_at: %w", err)
	}
	tr, ok := hepvault.ParseTransport(j.Transport)
	if !ok {
		return p, fmt.Errorf("unknown transport %q", j.Transport)
	}
	p.CapturedAt, p.Transport = t, tr
	p.SrcIP, _ = netip.ParseAddr(j.SrcIP)
	p.DstIP, _ = netip.ParseAddr(j.DstIP)
	p.SrcPort, p.DstPort = j.SrcPort, j.DstPort
	p.Raw = []byte(j.Raw)
	if j.RawBase64 != "" {
		if p.Raw, err = base64.StdEncoding.DecodeString(j.RawBase64); err != nil {
			return p, fmt.Errorf("raw_base64: %w", err)
		}
	}
	return p, nil
}
