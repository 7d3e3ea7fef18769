package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/internal/callflow"
	"github.com/hepvault/hepvault/internal/fixture"
	"github.com/hepvault/hepvault/internal/fixture/collected"
	"github.com/hepvault/hepvault/internal/pcapout/pcapouttest"
	"github.com/hepvault/hepvault/store"
)

// newLegsServer serves the API over the HEP of the legs capture: two calls
// through a Kamailio that gives each a second Call-ID towards the callee
// and names the first in X-CID. It returns the packets in capture order
// and the two (caller's, callee's) Call-ID pairs as tshark read them.
func newLegsServer(t *testing.T) (*httptest.Server, []hepvault.Packet, [][2]string) {
	t.Helper()
	db, _ := migratedDB(t)
	pkts := collected.HEP(t, fixture.LegsPcap)
	if err := store.NewWriter(db, store.DefaultWriterConfig()).WriteBatch(context.Background(), pkts); err != nil {
		t.Fatal(err)
	}
	callflow.Sort(pkts)
	pairs := collected.LegPairs(t)
	if len(pairs) != 2 {
		t.Fatalf("unexpected X-CID INVITEs in the truth: %d; want 2", len(pairs))
	}
	srv := httptest.NewServer(api.New(db, nil, nil))
	t.Cleanup(srv.Close)
	return srv, pkts, pairs
}

func TestCall_Legs(t *testing.T) {
	srv, all, pairs := newLegsServer(t)
	for _, pair := range pairs {
		var want []hepvault.Packet
		for _, p := range all {
			if p.CallID == pair[0] || p.CallID == pair[1] {
				want = append(want, p)
			}
		}
		for i, id := range pair {
			other := pair[1-i]
			path := "/api/v1/calls/" + url.PathEscape(id)
			code, body := get(t, srv, path)
			if code != http.StatusOK {
				t.Fatalf("GET %s: unexpected status %d: %s", path, code, body)
			}
			pkts, legs, err := api.DecodeCall([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(legs, []string{other}) {
				t.Fatalf("GET %s: unexpected legs; got %q; want [%s]", path, legs, other)
			}
			for _, p := range pkts {
				if p.CallID != id {
					t.Fatalf("GET %s: unexpected packet of %s without legs=true", path, p.CallID)
				}
			}
			code, body = get(t, srv, path+"?legs=true")
			if code != http.StatusOK {
				t.Fatalf("GET %s?legs=true: unexpected status %d: %s", path, code, body)
			}
			if pkts, legs, err = api.DecodeCall([]byte(body)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(legs, []string{other}) || len(pkts) != len(want) {
				t.Fatalf("GET %s?legs=true: unexpected %d packets, legs %q; want %d, [%s]", path, len(pkts), legs, len(want), other)
			}
			for k := range want {
				if pkts[k].ID != want[k].ID || pkts[k].CallID != want[k].CallID {
					t.Fatalf("GET %s?legs=true: packet %d: unexpected %d %s; want %d %s", path, k, pkts[k].ID, pkts[k].CallID, want[k].ID, want[k].CallID)
				}
			}
			// Both legs in one capture file, as tshark reads it.
			resp, pcap := getPcap(t, srv, path+"?legs=true&format=pcap")
			if cd, wantCD := resp.Header.Get("Content-Disposition"), `attachment; filename="call-`+regexp.MustCompile(`[^A-Za-z0-9._-]`).ReplaceAllString(id, "_")+`-legs.pcap"`; cd != wantCD {
				t.Fatalf("unexpected Content-Disposition; got %q; want %q", cd, wantCD)
			}
			pcapouttest.Check(t, pcap, want)
		}
	}
	code, a := getJSON(t, srv, "/api/v1/calls/"+url.PathEscape(pairs[0][0])+"?legs=yes")
	if code != http.StatusBadRequest || !strings.HasSuffix(a.Error, `legs must be true or false, not "yes"`) {
		t.Fatalf("legs=yes: unexpected %d %q; want 400 saying what legs takes", code, a.Error)
	}
}
