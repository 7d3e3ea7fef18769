package callflow

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/hepvault/hepvault/collector/capture"
	"github.com/hepvault/hepvault/internal/fixture"
)

// readCalls reads a capture of testdata/ with `hepvault import`'s reader
// and groups its packets by Call-ID, each call in the file's order.
func readCalls(t *testing.T, file string) (map[string][]hepvault.Packet, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(fixture.Dir(t), file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls := map[string][]hepvault.Packet{}
	var order []string
	if _, err := capture.Read(f, capture.Config{}, func(p hepvault.Packet) error {
		if _, ok := calls[p.CallID]; !ok {
			order = append(order, p.CallID)
		}
		calls[p.CallID] = append(calls[p.CallID], p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return calls, order
}
