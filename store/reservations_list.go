package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// ReservationFilter narrows ListReservations.
type ReservationFilter struct {
	Scope     []string // the user's location codes; nil means every location
	Location  string
	SKU       string
	Channel   domain.Channel
	Status    domain.ReservationStatus // "" means every active one (held and committed)
	Reference string                   // a checkout_ref or order_ref, exactly
	Offset    int
	Limit     int // 1..200, default 50
}

// ListReservations returns one page of reservation lines, soonest expiry
// first, and how many match in all.
func (db *DB) ListReservations(ctx context.Context, f ReservationFilter) ([]domain.ReservationRow, int, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	where, args := []string{}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Status == "" {
		where = append(where, "r.status IN ('held', 'committed')")
	} else {
		add("r.status = $%d", string(f.Status))
	}
	if f.Scope != nil {
		add("l.code = ANY($%d)", pq.Array(f.Scope))
	}
	if f.Location != "" {
		add("l.code = $%d", f.Location)
	}
	if f.SKU != "" {
		add("p.sku = $%d", f.SKU)
	}
	if f.Channel != "" {
		add("r.channel = $%d", string(f.Channel))
	}
	if f.Reference != "" {
		add("(r.checkout_ref = $%[1]d OR r.order_ref = $%[1]d)", f.Reference)
	}
	args = append(args, f.Limit, max(0, f.Offset))
	var rows []struct {
		domain.ReservationRow
		Total int `db:"total"`
	}
	err := db.SelectContext(ctx, &rows, `SELECT r.id, rl.line_no, r.channel, r.status, p.sku, p.name AS product_name, l.code AS location,
			l.timezone, rl.qty, r.expires_at, r.created_at, r.checkout_ref, r.order_ref, count(*) OVER () AS total
		FROM reservation_lines rl JOIN reservations r ON r.id = rl.reservation_id
		JOIN products p ON p.id = rl.product_id JOIN locations l ON l.id = rl.location_id
		WHERE `+joinAnd(where)+fmt.Sprintf(` ORDER BY r.expires_at, r.id, rl.line_no LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list reservations: %w", err)
	}
	out := make([]domain.ReservationRow, len(rows))
	total := 0
	for i, r := range rows {
		out[i], total = r.ReservationRow, r.Total
	}
	if len(rows) == 0 && f.Offset > 0 {
		// Past the end: count anyway, so the page can offer the way back.
		f.Offset, f.Limit = 0, 1
		if _, n, err := db.ListReservations(ctx, f); err == nil {
			total = n
		}
	}
	return out, total, nil
}

// ReservationCounts sums the active reservation lines per location in
// scope (nil means every location), in location code order.
func (db *DB) ReservationCounts(ctx context.Context, scope []string, now time.Time) ([]domain.LocationHolds, error) {
	var codes any
	if scope != nil {
		codes = pq.Array(scope)
	}
	var out []domain.LocationHolds
	err := db.SelectContext(ctx, &out, `SELECT l.code AS location, count(*) AS lines, sum(rl.qty) AS units,
			count(*) FILTER (WHERE r.expires_at <= $2) AS overdue
		FROM reservations r JOIN reservation_lines rl ON rl.reservation_id = r.id JOIN locations l ON l.id = rl.location_id
		WHERE r.status IN ('held', 'committed') AND ($1::text[] IS NULL OR l.code = ANY($1::text[]))
		GROUP BY l.code ORDER BY l.code`, codes, now)
	if err != nil {
		return nil, fmt.Errorf("store: reservation counts: %w", err)
	}
	return out, nil
}
