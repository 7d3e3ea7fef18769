package sip

import (
	"fmt"
	"strings"

	"github.com/hepvault/hepvault"
)

// A correlating header carries an id that links the legs of one call
// through a B2BUA: the B2BUA gives the far side a Call-ID of its own and
// names the near side's in a header. X-CID and X-Call-ID are read always
// (hdrCorrelation in the header table); a CorrelationHeader names another
// one, or a parameter of one (P-Charging-Vector's icid-value, RFC 7315
// §4.6). A message keeps the value of its first correlating header.

// CorrelationHeader names a header whose value, or one of whose
// parameters, correlates the legs of a call. Name and Param are lower case.
type CorrelationHeader struct {
	Name  string // header name: "p-charging-vector"
	Param string // "": the whole value; else this parameter's value: "icid-value"
}

// String writes h as ParseCorrelationHeader reads it.
func (h CorrelationHeader) String() string {
	if h.Param == "" {
		return h.Name
	}
	return h.Name + ";" + h.Param
}

// ParseCorrelationHeader reads "Name" or "Name;param" ("X-Leg",
// "P-Charging-Vector;icid-value"); both must be tokens (§25.1).
func ParseCorrelationHeader(s string) (CorrelationHeader, error) {
	name, param, hasParam := strings.Cut(strings.TrimSpace(s), ";")
	name, param = strings.TrimSpace(name), strings.TrimSpace(param)
	switch {
	case !isToken([]byte(name)):
		return CorrelationHeader{}, fmt.Errorf("correlation header %q: the name is not a SIP token", s)
	case hasParam && !isToken([]byte(param)):
		return CorrelationHeader{}, fmt.Errorf("correlation header %q: the parameter is not a SIP token", s)
	}
	return CorrelationHeader{Name: strings.ToLower(name), Param: strings.ToLower(param)}, nil
}

// ParseWith is Parse that also takes the headers hs as correlating
// (Message.Correlation), beside X-CID and X-Call-ID.
func ParseWith(buf []byte, m *Message, hs []CorrelationHeader) error {
	m.Reset()
	if err := m.parse(buf, hs); err != nil {
		m.Kind, m.Err = hepvault.KindInvalid, err
		return err
	}
	return nil
}

// correlation returns the correlation that name's value v carries when name
// is one of hs; nil when it is not, or its parameter is missing or empty.
func (p *headerParser) correlation(name, v []byte, folded bool) []byte {
	for _, h := range p.extra {
		if !eqFold(name, h.Name) {
			continue
		}
		if h.Param == "" {
			return p.text(v, folded)
		}
		if c := leadingParam(v, h.Param); len(c) > 0 {
			return c
		}
	}
	return nil
}

// leadingParam is param for a value that is a list of parameters from its
// start (P-Charging-Vector = icid-value *(SEMI charge-params)).
func leadingParam(v []byte, name string) []byte {
	i := skipLWS(v, 0)
	start := i
	for i < len(v) && tokenChars[v[i]] {
		i++
	}
	if !eqFold(v[start:i], name) {
		return param(v[i:], name)
	}
	i = skipLWS(v, i)
	if i == len(v) || v[i] != '=' {
		return nil
	}
	i = skipLWS(v, i+1)
	start = i
	if i < len(v) && v[i] == '"' {
		end := skipQuoted(v, i)
		if end < 0 {
			return nil
		}
		return v[start+1 : end-1]
	}
	for i < len(v) && v[i] != ';' && v[i] != ',' && !isLWS(v[i]) {
		i++
	}
	return v[start:i]
}
