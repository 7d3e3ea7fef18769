// Package pcapouttest checks an exported pcap file against the packets it
// should hold, with tshark reading the file: tests of pcapout, the API and
// the CLI share it.
package pcapouttest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/livetest"
)

// RequireEnv turns a missing tshark into a failure instead of a skip: the
// live tests' variable, which CI sets.
const RequireEnv = livetest.RequireEnv

var fields = []string{
	"frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
	"udp.srcport", "udp.dstport", "udp.payload",
	"tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.len", "tcp.payload", "tcp.analysis.flags",
	"sip.Call-ID", "sip.CSeq", "_ws.malformed",
}

// Frame is what tshark read of one frame, by field name.
type Frame map[string]string

// Read runs tshark on a pcap file and returns one Frame per frame, in
// order. It skips tb when tshark is missing, or fails it when RequireEnv
// is set.
func Read(tb testing.TB, pcap []byte) []Frame {
	tb.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		msg := "needs tshark (Debian: apt-get install tshark, or run scripts/deps.sh)"
		if os.Getenv(RequireEnv) != "" {
			tb.Fatalf("%s; %s is set, so this is a failure", msg, RequireEnv)
		}
		tb.Skip(msg + "; set " + RequireEnv + "=1 to make this a failure")
	}
	path := filepath.Join(tb.TempDir(), "export.pcap")
	if err := os.WriteFile(path, pcap, 0o644); err != nil {
		tb.Fatal(err)
	}
	args := []string{"-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tshark, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("tshark cannot read the export: %v: %s", err, stderr.String())
	}
	var out []Frame
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		vals := strings.Split(line, "\t")
		if len(vals) != len(fields) {
			tb.Fatalf("tshark printed %d fields; want %d: %q", len(vals), len(fields), line)
		}
		f := Frame{}
		for i, name := range fields {
			f[name] = vals[i]
		}
		out = append(out, f)
	}
	return out
}

// Check reads pcap with tshark and fails tb unless it holds exactly want,
// one frame per packet in the same order: capture time to the microsecond,
// addresses (placeholders where a packet has none), ports, transport (TCP
// for TCP, UDP for everything else), TCP sequence numbers counting each
// flow's bytes from 1, the payload byte for byte, and, for SIP requests
// and responses, the Call-ID and CSeq tshark's SIP dissector reads.
// tshark must flag no frame as malformed and no TCP segment as anything
// (retransmission, lost segment, ...).
func Check(tb testing.TB, pcap []byte, want []hepvault.Packet) {
	tb.Helper()
	got := Read(tb, pcap)
	if len(got) != len(want) {
		tb.Fatalf("unexpected frame count; got %d; want %d", len(got), len(want))
	}
	next := map[string]uint32{}
	for i := range want {
		if d := diff(got[i], &want[i], next); d != "" {
			tb.Fatalf("frame %d (%s %s): %s", i+1, want[i].CallID, want[i].Summary(), d)
		}
	}
}

func diff(f Frame, p *hepvault.Packet, next map[string]uint32) string {
	var errs []string
	check := func(field, got, want string) {
		if got != want {
			errs = append(errs, fmt.Sprintf("unexpected %s; got %q; want %q", field, got, want))
		}
	}
	us := p.CapturedAt.UnixMicro()
	check("time", f["frame.time_epoch"], fmt.Sprintf("%d.%06d000", us/1e6, us%1e6))
	src, dst := expectAddrs(p.SrcIP, p.DstIP)
	if src.Is4() {
		check("ip.src", f["ip.src"], src.String())
		check("ip.dst", f["ip.dst"], dst.String())
		check("ipv6.src", f["ipv6.src"], "")
	} else {
		check("ipv6.src", f["ipv6.src"], src.String())
		check("ipv6.dst", f["ipv6.dst"], dst.String())
		check("ip.src", f["ip.src"], "")
	}
	payload := hex.EncodeToString(p.Raw)
	if p.Transport == hepvault.TransportTCP {
		check("tcp.srcport", f["tcp.srcport"], fmt.Sprint(p.SrcPort))
		check("tcp.dstport", f["tcp.dstport"], fmt.Sprint(p.DstPort))
		check("udp.srcport", f["udp.srcport"], "")
		flow := fmt.Sprint(netip.AddrPortFrom(src, p.SrcPort), ">", netip.AddrPortFrom(dst, p.DstPort))
		seq, ok := next[flow]
		if !ok {
			seq = 1
		}
		check("tcp.seq_raw", f["tcp.seq_raw"], fmt.Sprint(seq))
		next[flow] = seq + uint32(len(p.Raw))
		check("tcp.len", f["tcp.len"], fmt.Sprint(len(p.Raw)))
		check("tcp.payload", f["tcp.payload"], payload)
		check("tcp.analysis.flags", f["tcp.analysis.flags"], "")
	} else {
		check("udp.srcport", f["udp.srcport"], fmt.Sprint(p.SrcPort))
		check("udp.dstport", f["udp.dstport"], fmt.Sprint(p.DstPort))
		check("tcp.srcport", f["tcp.srcport"], "")
		check("udp.payload", f["udp.payload"], payload)
	}
	check("_ws.malformed", f["_ws.malformed"], "")
	if p.Kind != hepvault.KindInvalid {
		check("sip.Call-ID", f["sip.Call-ID"], p.CallID)
		check("sip.CSeq", f["sip.CSeq"], fmt.Sprintf("%d %s", p.CSeq, p.CSeqMethod))
	}
	return strings.Join(errs, "; ")
}

// expectAddrs is the addresses a frame should carry, as pcapout documents
// them: IPv4 when neither is IPv6, otherwise both IPv6 (IPv4 mapped); the
// unspecified address for a missing one.
func expectAddrs(src, dst netip.Addr) (netip.Addr, netip.Addr) {
	v4 := !(src.Is6() || dst.Is6())
	fill := func(a netip.Addr) netip.Addr {
		switch {
		case !a.IsValid() && v4:
			return netip.MustParseAddr("0.0.0.0")
		case !a.IsValid():
			return netip.MustParseAddr("::")
		case v4:
			return a
		}
		return netip.AddrFrom16(a.As16())
	}
	return fill(src), fill(dst)
}
