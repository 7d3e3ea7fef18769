package sip

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden .json files in testdata/")

// sentinels are the errors of Parse by name, for golden files and checks.
var sentinels = map[string]error{
	"ErrEmpty":          ErrEmpty,
	"ErrStartLine":      ErrStartLine,
	"ErrHeader":         ErrHeader,
	"ErrTooManyHeaders": ErrTooManyHeaders,
	"ErrTruncated":      ErrTruncated,
}

// sentinelOf names the one sentinel err wraps, or fails.
func sentinelOf(tb testing.TB, err error) string {
	tb.Helper()
	var names []string
	for name, s := range sentinels {
		if errors.Is(err, s) {
			names = append(names, name)
		}
	}
	if len(names) != 1 {
		tb.Fatalf("error %q wraps %d sentinels %v; want exactly 1", err, len(names), names)
	}
	return names[0]
}

// golden is what a testdata/*.json file holds about its .sip message.
type golden struct {
	Summary       string `json:"summary"`
	Sentinel      string `json:"sentinel,omitempty"`
	Kind          string `json:"kind"`
	Method        string `json:"method,omitempty"`
	RequestURI    string `json:"request_uri,omitempty"`
	StatusCode    int    `json:"status_code,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Version       string `json:"version,omitempty"`
	CallID        string `json:"call_id,omitempty"`
	CSeqNum       uint32 `json:"cseq_num,omitempty"`
	CSeqMethod    string `json:"cseq_method,omitempty"`
	FromURI       string `json:"from_uri,omitempty"`
	FromTag       string `json:"from_tag,omitempty"`
	ToURI         string `json:"to_uri,omitempty"`
	ToTag         string `json:"to_tag,omitempty"`
	PAIURI        string `json:"pai_uri,omitempty"`
	FromUser      string `json:"from_user,omitempty"` // URIUser of each URI
	ToUser        string `json:"to_user,omitempty"`
	RURIUser      string `json:"ruri_user,omitempty"`
	PAIUser       string `json:"pai_user,omitempty"`
	ViaBranch     string `json:"via_branch,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	Contact       string `json:"contact,omitempty"`
	ContentType   string `json:"content_type,omitempty"`
	ContentLength int    `json:"content_length"`
	HeaderCount   int    `json:"header_count"`
	Body          string `json:"body,omitempty"`
}

func goldenOf(tb testing.TB, m *Message) golden {
	g := golden{
		Summary: m.Summary(), Kind: m.Kind.String(),
		Method: string(m.Method), RequestURI: string(m.RequestURI),
		StatusCode: m.StatusCode, Reason: string(m.Reason), Version: string(m.Version),
		CallID: string(m.CallID), CSeqNum: m.CSeqNum, CSeqMethod: string(m.CSeqMethod),
		FromURI: string(m.FromURI), FromTag: string(m.FromTag),
		ToURI: string(m.ToURI), ToTag: string(m.ToTag), PAIURI: string(m.PAIURI),
		FromUser: string(URIUser(m.FromURI)), ToUser: string(URIUser(m.ToURI)),
		RURIUser: string(URIUser(m.RequestURI)), PAIUser: string(URIUser(m.PAIURI)),
		ViaBranch: string(m.ViaBranch),
		UserAgent: string(m.UserAgent), Contact: string(m.Contact), ContentType: string(m.ContentType),
		ContentLength: m.ContentLength, HeaderCount: m.HeaderCount, Body: string(m.Body),
	}
	if m.Err != nil {
		g.Sentinel = sentinelOf(tb, m.Err)
	}
	return g
}

// TestParse_Testdata parses testdata/valid/*.sip, which Parse must accept,
// and testdata/invalid/*.sip, which it must reject with the sentinel of the
// golden file, and compares everything with the golden .json beside them.
// Run with -update to rewrite the golden files.
func TestParse_Testdata(t *testing.T) {
	for _, dir := range []string{"valid", "invalid"} {
		paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.sip"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no testdata/%s/*.sip: %v", dir, err)
		}
		for _, path := range paths {
			t.Run(dir+"/"+strings.TrimSuffix(filepath.Base(path), ".sip"), func(t *testing.T) {
				buf, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				var m Message
				err = Parse(buf, &m)
				if dir == "valid" && err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if dir == "invalid" && err == nil {
					t.Fatalf("unexpected success: %s", m.Summary())
				}
				got, err := json.MarshalIndent(goldenOf(t, &m), "", "\t")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				jsonPath := strings.TrimSuffix(path, ".sip") + ".json"
				if *update {
					if err := os.WriteFile(jsonPath, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(jsonPath)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("unexpected result; got\n%s\nwant\n%s", got, want)
				}
				var g golden
				if err := json.Unmarshal(want, &g); err != nil {
					t.Fatal(err)
				}
				if g.Sentinel != "" && !errors.Is(m.Err, sentinels[g.Sentinel]) {
					t.Errorf("unexpected error; got %v; want %s", m.Err, g.Sentinel)
				}
			})
		}
	}
}
