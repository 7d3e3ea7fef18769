package store

import (
	"errors"
	"testing"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5/pgconn"
)

// What the database says when it is busy or away is a write to try again
// (ErrUnavailable); what it says about a row is not.
func TestInterpretError_BusyIsUnavailable(t *testing.T) {
	for code, want := range map[string]bool{
		"55P03": true,  // lock_not_available: lock_timeout passed
		"40P01": true,  // deadlock_detected
		"40001": true,  // serialization_failure
		"57P01": true,  // admin_shutdown
		"08006": true,  // connection_failure
		"22021": false, // character_not_in_repertoire: the row
		"23505": false, // unique_violation
		"55000": false, // object_not_in_prerequisite_state
	} {
		err := interpretError("write", &pgconn.PgError{Code: code, Message: "m"})
		if got := errors.Is(err, hepvault.ErrUnavailable); got != want {
			t.Errorf("SQLSTATE %s: unavailable %v; want %v (%v)", code, got, want, err)
		}
	}
}
