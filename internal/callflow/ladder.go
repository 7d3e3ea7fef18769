package callflow

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hepvault/hepvault"
)

// LadderOptions tunes Ladder; the zero value draws 120 columns wide.
type LadderOptions struct {
	// Width is the widest line, in characters (default 120, at least 40).
	// Hosts too many to get 4 characters each within it make the lines
	// wider rather than disappear.
	Width int
}

// DefaultWidth is the width of a ladder when LadderOptions gives none.
const DefaultWidth = 120

// The left gutter: "15:04:05.000" and the delta, right aligned.
const (
	timeWidth  = 12
	deltaWidth = 11
	gutter     = timeWidth + 1 + deltaWidth + 1
	maxHost    = 21 // "255.255.255.255:65535"; longer IPv6 names are cut
	maxStep    = 44 // columns farther apart than this only stretch arrows
	minStep    = 4
)

// Ladder draws the message flow of pkts (any order; sorted by capture
// time, then id) as sngrep does: one column per host (address:port) in
// the order hosts first appear, then one line per packet, with its capture
// time (UTC, milliseconds), the time since the previous packet, and an
// arrow from sender to receiver labelled with the method ("INVITE (SDP)")
// or the status ("180 Ringing"). A line with the date starts the drawing
// and comes again wherever the UTC date changes. A message a host sends to
// itself is drawn as a loop at its column. Pure text, the same for the
// same packets.
func Ladder(w io.Writer, pkts []hepvault.Packet, opts LadderOptions) error {
	width := opts.Width
	if width == 0 {
		width = DefaultWidth
	}
	width = max(width, 40)
	if len(pkts) == 0 {
		return nil // nothing to draw
	}
	ps := slices.Clone(pkts)
	Sort(ps)

	var hosts []string
	col := map[string]int{}
	for i := range ps {
		for _, h := range []string{hostOf(ps[i].SrcIP, ps[i].SrcPort), hostOf(ps[i].DstIP, ps[i].DstPort)} {
			if _, ok := col[h]; !ok {
				col[h] = len(hosts)
				hosts = append(hosts, h)
			}
		}
	}
	// Columns: the first right after the gutter (its host name may reach
	// back over the gutter, which is empty in the header), the last a
	// margin of half a host name before the edge. In a narrow drawing the
	// margin shrinks before the columns do.
	margin := maxHost / 2
	step := 0
	if n := len(hosts); n > 1 {
		step = max(minStep, min(maxStep, (width-1-margin-gutter)/(n-1)))
		if m := (step - 1) / 2; m < margin {
			margin = m
			step = max(minStep, min(maxStep, (width-1-margin-gutter)/(n-1)))
		}
	}
	x := make([]int, len(hosts))
	for i := range x {
		x[i] = gutter + i*step
	}
	lineLen := max(gutter+1+maxHost/2, x[len(x)-1]+margin+1)
	lineLen = max(lineLen, min(width, gutter+1+maxHost))
	// A host name gets the room between its neighbours' columns.
	room := maxHost
	if len(hosts) > 1 {
		room = min(step-1, 2*margin+1)
	}

	bw := bufio.NewWriter(w)
	line := make([]rune, lineLen)
	clear := func() {
		for i := range line {
			line[i] = ' '
		}
	}
	emit := func() {
		bw.WriteString(strings.TrimRight(string(line), " "))
		bw.WriteByte('\n')
	}
	lifelines := func() {
		for _, xi := range x {
			line[xi] = '|'
		}
	}

	// The header: host names centred on their columns, cut to fit.
	clear()
	for i, h := range hosts {
		r := []rune(h)
		if len(r) > room {
			r = r[len(r)-room:] // keep the port and the end of the address
		}
		put(line, x[i]-len(r)/2, r)
	}
	emit()
	clear()
	lifelines()
	emit()

	var prev time.Time
	var day string
	for i := range ps {
		p := &ps[i]
		t := p.CapturedAt.UTC()
		if d := t.Format("2006-01-02"); d != day {
			day = d
			clear()
			lifelines()
			put(line, 0, []rune(d))
			emit()
		}
		clear()
		lifelines()
		put(line, 0, []rune(t.Format("15:04:05.000")))
		if i > 0 {
			ds := []rune(delta(t.Sub(prev)))
			put(line, timeWidth+1+deltaWidth-len(ds), ds)
		}
		prev = t
		label := []rune(Label(p))
		a, b := col[hostOf(p.SrcIP, p.SrcPort)], col[hostOf(p.DstIP, p.DstPort)]
		if a == b {
			// A loop: out of the column and back into it, label beside it.
			r := []rune("<-+ ")
			put(line, x[a]+1, r)
			put(line, x[a]+1+len(r), fit(label, lineLen-(x[a]+1+len(r))))
			emit()
			continue
		}
		lo, hi := min(x[a], x[b]), max(x[a], x[b])
		for j := lo + 1; j < hi; j++ {
			line[j] = '-'
		}
		if a < b {
			line[hi-1] = '>'
		} else {
			line[lo+1] = '<'
		}
		// The label sits in the middle of the shaft, a space either side,
		// clear of the arrow's head.
		if span := hi - lo - 1 - 4; span > 0 {
			l := fit(label, span)
			start := lo + 1 + (hi-lo-1-len(l)-2)/2
			line[start] = ' '
			put(line, start+1, l)
			line[start+1+len(l)] = ' '
		}
		emit()
	}
	return bw.Flush()
}

// Label is what the ladder writes on a message's arrow: "INVITE (SDP)",
// "180 Ringing", "200 OK (SDP)"; "invalid" for a payload that is not SIP.
func Label(p *hepvault.Packet) string {
	var s string
	switch p.Kind {
	case hepvault.KindRequest:
		s = p.Method
	case hepvault.KindResponse:
		s = strconv.Itoa(p.StatusCode)
		if p.Reason != "" {
			s += " " + p.Reason
		}
	default:
		return "invalid"
	}
	if HasSDP(p) {
		s += " (SDP)"
	}
	return s
}

func hostOf(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

// delta formats the time from the previous message (never negative: the
// packets are sorted): under a second in milliseconds to the microsecond
// ("+0.612ms"), then in seconds to the millisecond ("+1.204s"), from
// 10000 s on rounded to the second ("+3h2m5s").
func delta(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("+%.3fms", float64(d.Microseconds())/1e3)
	case d < 10000*time.Second:
		return fmt.Sprintf("+%.3fs", d.Seconds())
	}
	return "+" + d.Round(time.Second).String()
}

// fit cuts r to n characters, marking the cut with "~", and replaces
// control characters, so a reason phrase cannot break the drawing.
func fit(r []rune, n int) []rune {
	out := make([]rune, 0, len(r))
	for _, c := range r {
		if !unicode.IsPrint(c) {
			c = '?'
		}
		out = append(out, c)
	}
	if n <= 0 {
		return nil
	}
	if len(out) > n {
		out = append(out[:n-1], '~')
	}
	return out
}

// put writes r into line from position at, dropping what falls outside.
func put(line []rune, at int, r []rune) {
	for i, c := range r {
		if j := at + i; j >= 0 && j < len(line) {
			if !unicode.IsPrint(c) {
				c = '?'
			}
			line[j] = c
		}
	}
}
