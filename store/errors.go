package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5/pgconn"
)

// interpretError turns a pgx error into one of the root error kinds, so that
// callers above store never look at pgx types.
func interpretError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 (connection), 53 (resources), 57 (operator intervention:
		// shutdown, admin kill) mean the database is not there for us now.
		// A lock not had within lock_timeout (55P03) or a transaction
		// rolled back for a deadlock or serialization (class 40) is the
		// database busy: the same statement succeeds when tried again.
		switch pgErr.Code[:2] {
		case "08", "53", "57", "40":
			return fmt.Errorf("store: %s: %w: %v", op, hepvault.ErrUnavailable, err)
		}
		if pgErr.Code == "55P03" {
			return fmt.Errorf("store: %s: %w: %v", op, hepvault.ErrUnavailable, err)
		}
		return fmt.Errorf("store: %s: %w", op, err)
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	// A connection that ends mid-reply (a batch's statements being
	// prepared, say) surfaces as a bare EOF, wrapped.
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
	if errors.As(err, &netErr) || errors.As(err, &connErr) || pgconn.SafeToRetry(err) || eof {
		return fmt.Errorf("store: %s: %w: %v", op, hepvault.ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
