package api

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/internal/pcapout"
	"github.com/labstack/echo/v4"
)

// NextCursorHeader carries the cursor of the next page when the body is a
// pcap file, which has no room for it.
const NextCursorHeader = "X-Next-Cursor"

type packetsAnswer struct {
	Packets []packetJSON `json:"packets"`
	Next    string       `json:"next,omitempty"`
	// Legs, in a call's answer only: the Call-IDs of its other legs.
	Legs *[]string `json:"legs,omitempty"`
}

// handlePackets answers GET /api/v1/packets: the first packets of a window,
// in capture order, a page at a time.
func (s *Server) handlePackets(c echo.Context) error {
	q := c.QueryParams()
	f, err := parseFilter(q)
	if err != nil {
		return err
	}
	format, err := parseFormat(q.Get("format"))
	if err != nil {
		return err
	}
	pkts, more, err := s.store.Packets(c.Request().Context(), f)
	if err != nil {
		return err
	}
	next := ""
	if more && len(pkts) > 0 {
		next = encodeCursor(pkts[len(pkts)-1])
	}
	return s.answer(c, format, pkts, next, nil, "hepvault-packets.pcap")
}

// handleCall answers GET /api/v1/calls/{call_id}: every packet of one call
// and the Call-IDs of its other legs; with legs=true, the packets of every
// leg, in capture order.
func (s *Server) handleCall(c echo.Context) error {
	callID, err := pathUnescape(c.Param("call_id"))
	if err != nil {
		return err
	}
	if err := checkText("call_id", callID); err != nil {
		return err
	}
	for name, vs := range c.QueryParams() {
		if name != "format" && name != "legs" {
			return invalid("unknown parameter %q", name)
		}
		if len(vs) > 1 {
			return invalid("%s is given %d times; give it once", name, len(vs))
		}
	}
	format, err := parseFormat(c.QueryParam("format"))
	if err != nil {
		return err
	}
	var withLegs bool
	switch v := c.QueryParam("legs"); v {
	case "", "false":
	case "true":
		withLegs = true
	default:
		return invalid("legs must be true or false, not %q", v)
	}
	pkts, legs, err := s.store.CallLegs(c.Request().Context(), callID, withLegs)
	if err != nil {
		return err
	}
	if len(pkts) == 0 {
		return c.JSON(http.StatusNotFound, map[string]string{"error": "no packets with Call-ID " + callID})
	}
	if legs == nil {
		legs = []string{}
	}
	file := "call-" + fileName(callID)
	if withLegs && len(legs) > 0 {
		file += "-legs"
	}
	return s.answer(c, format, pkts, "", legs, file+".pcap")
}

// answer writes pkts in format; a pcap is an attachment named file, its
// next page's cursor in NextCursorHeader. legs, when not nil, are a call's
// other legs, written in JSON.
func (s *Server) answer(c echo.Context, format string, pkts []hepvault.Packet, next string, legs []string, file string) error {
	setReturned(c, len(pkts))
	bp := answerBuffers.Get().(*[]byte)
	var buf []byte
	var err error
	switch format {
	case "pcap":
		b := bytes.NewBuffer((*bp)[:0])
		if err := pcapout.Write(b, pkts); err != nil {
			return err
		}
		buf = b.Bytes()
		h := c.Response().Header()
		h.Set(echo.HeaderContentDisposition, `attachment; filename="`+file+`"`)
		if next != "" {
			h.Set(NextCursorHeader, next)
		}
		err = c.Blob(http.StatusOK, pcapout.ContentType, buf)
	case "text":
		buf = appendText((*bp)[:0], pkts, next)
		err = c.Blob(http.StatusOK, echo.MIMETextPlainCharsetUTF8, buf)
	default:
		buf = appendAnswer((*bp)[:0], pkts, next, legs)
		err = c.Blob(http.StatusOK, echo.MIMEApplicationJSON, buf)
	}
	if cap(buf) <= maxPooledAnswer {
		*bp = buf
		answerBuffers.Put(bp)
	}
	return err
}

func parseFormat(v string) (string, error) {
	switch v {
	case "", "json":
		return "json", nil
	case "text", "pcap":
		return v, nil
	}
	return "", invalid("format must be json, text or pcap, not %q", v)
}

// fileName makes a Call-ID safe to name a file and to quote in a header:
// letters, digits, '.', '-' and '_' stay, anything else becomes '_', and
// it is cut to 100 bytes.
func fileName(s string) string {
	b := []byte(s)
	if len(b) > 100 {
		b = b[:100]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func pathUnescape(s string) (string, error) {
	// echo hands the path parameter still escaped when the path has escapes.
	if !strings.Contains(s, "%") {
		return s, nil
	}
	out, err := urlPathUnescape(s)
	if err != nil {
		return "", invalid("call_id %q is not a valid escaped path segment", s)
	}
	return out, nil
}
