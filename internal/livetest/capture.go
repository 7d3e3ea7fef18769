package livetest

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Capture is dumpcap writing what passes loopback to a pcap file.
type Capture struct {
	Path string
	p    *proc
}

// StartCapture captures on lo the packets that match filter (a BPF
// capture filter, "udp port 5060") and returns once dumpcap captures.
func StartCapture(t *testing.T, filter string) *Capture {
	t.Helper()
	dir := t.TempDir()
	c := &Capture{Path: filepath.Join(dir, "wire.pcap")}
	c.p = start(t, dir, "dumpcap", "-i", "lo", "-f", filter, "-P", "-w", c.Path)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.p.out.String(), "Capturing on") {
		if c.p.exited() {
			t.Fatalf("dumpcap exited at start (%v):\n%s", c.p.err, c.p.out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("dumpcap did not start capturing in 10s:\n%s", c.p.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

// Stop ends the capture and returns the file's path. It first waits for
// the file to stop growing, so that packets just sent are read off the
// kernel's ring, then sends SIGINT: dumpcap writes what it holds and closes
// the file.
func (c *Capture) Stop(t *testing.T) string {
	t.Helper()
	size, since := int64(-1), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		fi, err := os.Stat(c.Path)
		if err != nil {
			continue
		}
		if fi.Size() != size {
			size, since = fi.Size(), time.Now()
		} else if time.Since(since) > 300*time.Millisecond {
			break
		}
	}
	c.p.signalStop(syscall.SIGINT, 10*time.Second)
	return c.Path
}

// Message is one SIP message as tshark's SIP dissector read it.
type Message struct {
	Frame      int
	Time       time.Time // when it passed the wire
	Src, Dst   netip.AddrPort
	Method     string // requests
	Status     int    // responses
	CSeq       uint32
	CSeqMethod string
	CallID     string
}

// IsRequest says whether m is a request (tshark found a method).
func (m Message) IsRequest() bool { return m.Method != "" }

func (m Message) String() string {
	what := m.Method
	if !m.IsRequest() {
		what = strconv.Itoa(m.Status)
	}
	return fmt.Sprintf("frame %d %s %s -> %s %s (CSeq %d %s, Call-ID %s)", m.Frame,
		m.Time.UTC().Format("15:04:05.000000"), m.Src, m.Dst, what, m.CSeq, m.CSeqMethod, m.CallID)
}

var tsharkFields = []string{
	"frame.number", "frame.time_epoch", "ip.src", "udp.srcport", "ip.dst", "udp.dstport",
	"sip.Method", "sip.Status-Code", "sip.CSeq.seq", "sip.CSeq.method", "sip.Call-ID",
}

// ReadSIP reads the SIP over UDP in a capture file with tshark, in frame
// order. UDP to or from the sipPorts is decoded as SIP (tshark knows 5060
// only).
func ReadSIP(t *testing.T, pcap string, sipPorts ...int) []Message {
	t.Helper()
	args := []string{"-r", pcap, "-n", "-Y", "sip && udp", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	for _, p := range sipPorts {
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,sip", p))
	}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(mustLookPath(t, "tshark"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v: %s", args, err, stderr.String())
	}
	var msgs []Message
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		m, err := parseFields(strings.Split(line, "\t"))
		if err != nil {
			t.Fatalf("tshark line %q: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func parseFields(f []string) (Message, error) {
	var m Message
	if len(f) != len(tsharkFields) {
		return m, fmt.Errorf("%d fields; want %d", len(f), len(tsharkFields))
	}
	var err error
	num := func(s string) int {
		n, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	m.Frame = num(f[0])
	sec, frac, _ := strings.Cut(f[1], ".")
	frac = (frac + "000000000")[:9]
	m.Time = time.Unix(int64(num(sec)), int64(num(frac))).UTC()
	src, e1 := netip.ParseAddr(f[2])
	dst, e2 := netip.ParseAddr(f[4])
	if e1 != nil || e2 != nil {
		return m, fmt.Errorf("addresses %q, %q", f[2], f[4])
	}
	m.Src = netip.AddrPortFrom(src, uint16(num(f[3])))
	m.Dst = netip.AddrPortFrom(dst, uint16(num(f[5])))
	m.Method = f[6]
	if f[7] != "" {
		m.Status = num(f[7])
	}
	m.CSeq = uint32(num(f[8]))
	m.CSeqMethod, m.CallID = f[9], f[10]
	if m.Method == "" && m.Status == 0 {
		return m, fmt.Errorf("neither a method nor a status code")
	}
	return m, err
}
