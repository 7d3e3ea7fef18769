package api_test

import (
	"context"
	"encoding/base64"
	"github.com/jackc/pgx/v5"
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
	srv, db, dsn := newServerDSN(t)
	payloads := []string{
		`' OR '1'='1`,
		`' OR 1=1 --`,
		`'; DROP TABLE packet_blocks; --`,
		`1; DROP TABLE packet_blocks`,
		`1) OR (1=1`,
		`INVITE' UNION SELECT * FROM packets --`,
		`$1`,
		`\'; TRUNCATE packet_blocks; --`,
		"x'\x00; DELETE FROM packet_blocks",
		`1 OR 1=1`,
		`"; DELETE FROM packet_blocks; --`,
		`request'); DROP TABLE packet_blocks; --`,
		"\xff\xfe' OR '1'='1", // not UTF-8
	}
	// Parameters holding free text answer 200 with nothing found; typed
	// ones must refuse anything that is not their type.
	freeText := map[string]bool{"method": true, "call_id": true, "correlation_id": true,
		"from_user": true, "to_user": true, "ruri_user": true, "user": true, "text": true}
	params := []string{"kind", "method", "status", "status_class", "call_id", "correlation_id", "src_ip", "dst_ip", "ip", "capture_id",
		"from_user", "to_user", "ruri_user", "user", "text", "from", "to", "cursor", "limit", "format"}
	// List parameters get each payload after a harmless first value as well.
	listFirst := map[string]string{"kind": "request", "method": "NOPE", "status": "486", "status_class": "6xx",
		"src_ip": "10.0.0.1", "dst_ip": "10.0.0.1", "ip": "10.0.0.1", "capture_id": "1"}
	for _, param := range params {
		for _, p := range payloads {
			values := []string{p}
			if first, ok := listFirst[param]; ok {
				values = append(values, first+","+p)
			}
			if param == "cursor" {
				// A cursor is base64; smuggle the SQL inside as well.
				values = append(values, base64.RawURLEncoding.EncodeToString([]byte("1795609233000000."+p)),
					base64.RawURLEncoding.EncodeToString([]byte(p+".1")))
			}
			for _, v := range values {
				q := url.Values{param: {v}}
				if param == "text" {
					// text= needs a window; give it one holding every packet.
					q.Set("from", "2026-11-25T12:00:00Z")
					q.Set("to", "2026-11-25T13:00:00Z")
				}
				code, a := getJSON(t, srv, "/api/v1/packets?"+q.Encode())
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
	// What the database holds, counted by PostgreSQL: the payloads aim at
	// packet_blocks, the table, and packets, the view over it.
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var blocks, rows int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM packet_blocks), (SELECT count(*) FROM packets)`).Scan(&blocks, &rows); err != nil {
		t.Fatalf("packet_blocks or packets damaged: %v", err)
	}
	if blocks == 0 || rows != 6 {
		t.Fatalf("unexpected database after the attempts; got %d blocks, %d packets; want some, 6", blocks, rows)
	}
	// And the filters still work normally afterwards.
	if code, a := getJSON(t, srv, "/api/v1/packets?method=INVITE&call_id=call-1@x"); code != 200 || len(a.Packets) != 1 {
		t.Fatalf("unexpected answer to a normal query after the attempts: %d, %d packets", code, len(a.Packets))
	}
}
