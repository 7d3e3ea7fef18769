package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/hepvault/hepvault"
)

// The writer's own writes are bounded by WriterConfig.WriteTimeout: a server
// that hangs, or a network that swallows packets, would otherwise hold the
// writer for as long as TCP takes to give up (many minutes) while the queue
// overflows. A write that times out counts as the database being
// unavailable, so its batch is retried and then spooled like any other.

func (w *Writer) writeBounded(ctx context.Context, batch encoded) error {
	return w.bounded(ctx, func(ctx context.Context) error { return w.writeEncoded(ctx, batch) })
}

func (w *Writer) writeOnceBounded(ctx context.Context, batch encoded) error {
	return w.bounded(ctx, func(ctx context.Context) error {
		_, err := w.writeEncodedOnce(ctx, batch)
		return err
	})
}

// bounded runs write within WriteTimeout and counts its failure by reason
// (not when ctx ended: that is hepvault stopping, not the database).
func (w *Writer) bounded(ctx context.Context, write func(context.Context) error) error {
	err := w.db.errNotReady()
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
		err = write(wctx)
		if err != nil && ctx.Err() == nil && wctx.Err() != nil {
			err = fmt.Errorf("store: write took longer than %s: %w: %v", w.cfg.WriteTimeout, hepvault.ErrUnavailable, err)
		}
		cancel()
	}
	if err != nil && ctx.Err() == nil {
		if errors.Is(err, hepvault.ErrUnavailable) {
			w.writeErrors[WriteUnavailable].Add(1)
		} else {
			w.writeErrors[WriteRefused].Add(1)
		}
	}
	return err
}
