package hepvault

import "testing"

func TestUserKey(t *testing.T) {
	for in, want := range map[string]string{
		"+49 30 7741528":   "49307741528",
		"+49-30-7741528":   "49307741528",
		"49307741528":      "49307741528",
		"+49.30.(774)1528": "49307741528",
		"alice":            "alice",
		"Alice":            "Alice",
		"1+2":              "1+2", // '+' only leads a number
		"+":                "+",
		"":                 "",
		"bob 1":            "bob 1",
	} {
		if got := UserKey(in); got != want {
			t.Errorf("unexpected UserKey(%q); got %q; want %q", in, got, want)
		}
		if got := string(AppendUserKey([]byte("x"), in)); got != "x"+want {
			t.Errorf("unexpected AppendUserKey(%q); got %q; want %q", in, got, "x"+want)
		}
	}
}
