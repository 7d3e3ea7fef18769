package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hepvault/hepvault"
	"github.com/jackc/pgx/v5"
)

// A legal hold keeps packets past retention. Retention drops whole days
// (a partition each, retention.go), so a hold keeps the days its window
// touches: the held packets stay exactly where and as they were stored,
// readable by the API, the packets view and the pcap export with nothing
// to merge, and copying them elsewhere before a drop (under disk pressure,
// when copying costs most) is avoided. The price is that a held day's other
// packets are kept too. The disk guard still drops a held day when only
// held days and today are left: a full disk would stop PostgreSQL and lose
// every new packet; it says so in the log at error level, naming the holds.

// Hold is a legal hold: a Call-ID's packets, or those a packet filter (the
// query string of /api/v1/packets) selects, over [From, To).
type Hold struct {
	ID        int64      `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	Reason    string     `json:"reason"`
	CallID    string     `json:"call_id,omitempty"`
	Filter    string     `json:"filter,omitempty"`
	From      time.Time  `json:"from"`
	To        time.Time  `json:"to"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	EndedBy   string     `json:"ended_by,omitempty"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// AddHold stores h (ID and CreatedAt are set by the database) and returns it.
func (db *DB) AddHold(ctx context.Context, h Hold) (Hold, error) {
	if err := db.errNotReady(); err != nil {
		return h, err
	}
	if (h.CallID == "") == (h.Filter == "") || !h.To.After(h.From) || h.Reason == "" {
		return h, fmt.Errorf("%w: a hold needs a Call-ID or a filter, a reason, and a window", hepvault.ErrInvalid)
	}
	err := db.pool.QueryRow(ctx, `
		INSERT INTO holds (created_by, reason, call_id, filter, from_at, to_at) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id, created_at`, cleanText(h.CreatedBy), cleanText(h.Reason), nullable(cleanText(h.CallID)),
		nullable(cleanText(h.Filter)), h.From, h.To).Scan(&h.ID, &h.CreatedAt)
	h.CreatedAt = h.CreatedAt.UTC()
	return h, interpretError("add a hold", err)
}

const holdColumns = `id, created_at, created_by, reason, coalesce(call_id, ''), coalesce(filter, ''), from_at, to_at, ended_at, coalesce(ended_by, '')`

func scanHold(row pgx.Row) (Hold, error) {
	var h Hold
	err := row.Scan(&h.ID, &h.CreatedAt, &h.CreatedBy, &h.Reason, &h.CallID, &h.Filter, &h.From, &h.To, &h.EndedAt, &h.EndedBy)
	h.CreatedAt, h.From, h.To = h.CreatedAt.UTC(), h.From.UTC(), h.To.UTC()
	if h.EndedAt != nil {
		t := h.EndedAt.UTC()
		h.EndedAt = &t
	}
	return h, err
}

// Holds lists the holds, ended ones too when all is set, oldest first.
func (db *DB) Holds(ctx context.Context, all bool) ([]Hold, error) {
	if err := db.errNotReady(); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+holdColumns+` FROM holds WHERE $1 OR ended_at IS NULL ORDER BY id`, all)
	if err != nil {
		return nil, interpretError("list holds", err)
	}
	out := []Hold{}
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, interpretError("list holds", err)
		}
		out = append(out, h)
	}
	return out, interpretError("list holds", rows.Err())
}

// EndHold ends hold id; the row stays, with who ended it and when. An
// unknown or already ended hold is hepvault.ErrNotFound.
func (db *DB) EndHold(ctx context.Context, id int64, by string) (Hold, error) {
	if err := db.errNotReady(); err != nil {
		return Hold{}, err
	}
	h, err := scanHold(db.pool.QueryRow(ctx, `
		UPDATE holds SET ended_at = now(), ended_by = $2 WHERE id = $1 AND ended_at IS NULL RETURNING `+holdColumns, id, cleanText(by)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, fmt.Errorf("%w: no hold %d in force", hepvault.ErrNotFound, id)
	}
	return h, interpretError("end a hold", err)
}

// heldDays returns the UTC days that holds in force touch, with the ids of
// the holds on each.
func (db *DB) heldDays(ctx context.Context) (map[time.Time][]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, from_at, to_at FROM holds WHERE ended_at IS NULL`)
	if err != nil {
		return nil, interpretError("list holds", err)
	}
	out := map[time.Time][]int64{}
	for rows.Next() {
		var id int64
		var from, to time.Time
		if err := rows.Scan(&id, &from, &to); err != nil {
			return nil, interpretError("list holds", err)
		}
		for d := dayOf(from); d.Before(to); d = d.Add(day) {
			out[d] = append(out[d], id)
		}
	}
	return out, interpretError("list holds", rows.Err())
}
