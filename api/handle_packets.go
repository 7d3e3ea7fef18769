package api

import (
	"net/http"
	"strings"

	"github.com/hepvault/hepvault"
	"github.com/labstack/echo/v4"
)

type packetsAnswer struct {
	Packets []packetJSON `json:"packets"`
	Next    string       `json:"next,omitempty"`
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
	return s.answer(c, format, pkts, next)
}

// handleCall answers GET /api/v1/calls/{call_id}: every packet of one call.
func (s *Server) handleCall(c echo.Context) error {
	callID, err := pathUnescape(c.Param("call_id"))
	if err != nil {
		return err
	}
	if err := checkText("call_id", callID); err != nil {
		return err
	}
	for name := range c.QueryParams() {
		if name != "format" {
			return invalid("unknown parameter %q", name)
		}
	}
	format, err := parseFormat(c.QueryParam("format"))
	if err != nil {
		return err
	}
	pkts, err := s.store.Call(c.Request().Context(), callID)
	if err != nil {
		return err
	}
	if len(pkts) == 0 {
		return c.JSON(http.StatusNotFound, map[string]string{"error": "no packets with Call-ID " + callID})
	}
	return s.answer(c, format, pkts, "")
}

func (s *Server) answer(c echo.Context, format string, pkts []hepvault.Packet, next string) error {
	bp := answerBuffers.Get().(*[]byte)
	var buf []byte
	var err error
	if format == "text" {
		buf = appendText((*bp)[:0], pkts, next)
		err = c.Blob(http.StatusOK, echo.MIMETextPlainCharsetUTF8, buf)
	} else {
		buf = appendAnswer((*bp)[:0], pkts, next)
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
	case "text":
		return "text", nil
	}
	return "", invalid("format must be json or text, not %q", v)
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
