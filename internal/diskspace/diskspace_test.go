package diskspace

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOf_Success(t *testing.T) {
	u, err := Of(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if u.Total <= 0 || u.Free < 0 || u.Free > u.Total {
		t.Fatalf("unexpected usage; got %+v; want 0 <= free <= total, total > 0", u)
	}
}

func TestOf_Failure(t *testing.T) {
	_, err := Of(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unexpected error; got %v; want one wrapping os.ErrNotExist", err)
	}
}
