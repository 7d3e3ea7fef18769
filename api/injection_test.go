package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hepvault/hepvault"
)

// TestPackets_InjectionThroughEveryParameter sends SQL through each query
// parameter against a real database. Each must be refused with 400 or
// answered as the literal value it is (no packet matches it); afterwards
// the table still holds its six packets.
func TestPackets_InjectionThroughEveryParameter(t *testing.T) {
	srv, db := newServer(t)
	payloads := []string{
		`' OR '1'='1`,
		`' OR 1=1 --`,
		`'; DROP TABLE packets; --`,
		`1; DROP TABLE packets`,
		`1) OR (1=1`,
		`INVITE' UNION SELECT * FROM packets --`,
		`$1`,
		`\'; TRUNCATE packets; --`,
		"x'\x00; DELETE FROM packets",
		`1 OR 1=1`,
		`"; DELETE FROM packets; --`,
		`request'); DROP TABLE packets; --`,
		"\xff\xfe' OR '1'='1", // not UTF-8
	}
	// Parameters holding free text answer 200 with nothing found; typed
	// ones must refuse anything that is not their type.
	freeText := map[string]bool{"method": true, "call_id": true}
	params := []string{"kind", "method", "status", "call_id", "src_ip", "dst_ip", "capture_id", "from", "to", "cursor", "limit", "format"}
	for _, param := range params {
		for _, p := range payloads {
			values := []string{p}
			if param == "cursor" {
				// A cursor is base64; smuggle the SQL inside as well.
				values = append(values, base64.RawURLEncoding.EncodeToString([]byte("1795609233000000."+p)),
					base64.RawURLEncoding.EncodeToString([]byte(p+".1")))
			}
			for _, v := range values {
				q := url.Values{param: {v}}.Encode()
				code, a := getJSON(t, srv, "/api/v1/packets?"+q)
				switch {
				case freeText[param] && code == http.StatusOK && len(a.Packets) == 0:
				case freeText[param] && code == http.StatusBadRequest && strings.Contains(a.Error, "UTF-8 text without NUL"):
				case !freeText[param] && code == http.StatusBadRequest && a.Error != "":
				default:
					t.Fatalf("%s=%q: unexpected answer %d, %d packets, error %q", param, v, code, len(a.Packets), a.Error)
				}
			}
		}
	}
	for _, p := range payloads {
		code, a := getJSON(t, srv, "/api/v1/calls/"+url.PathEscape(p))
		if (code != http.StatusNotFound && code != http.StatusBadRequest) || len(a.Packets) != 0 {
			t.Fatalf("calls/%q: unexpected answer %d, %d packets", p, code, len(a.Packets))
		}
	}
	pkts, _, err := db.Packets(context.Background(), hepvault.Filter{Limit: 100})
	if err != nil {
		t.Fatalf("packets table damaged: %v", err)
	}
	if len(pkts) != 6 {
		t.Fatalf("unexpected packets after the attempts; got %d; want 6", len(pkts))
	}
	// And the filters still work normally afterwards.
	if code, a := getJSON(t, srv, "/api/v1/packets?method=INVITE&call_id=call-1@x"); code != 200 || len(a.Packets) != 1 {
		t.Fatalf("unexpected answer to a normal query after the attempts: %d, %d packets", code, len(a.Packets))
	}
}
