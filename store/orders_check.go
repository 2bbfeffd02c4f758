package store

import (
	"context"
	"fmt"
)

// orderReservationMismatches lists where orders and reservations disagree:
// an order line holding units whose reservation line is missing, closed, or
// holds another quantity, location or SKU (stock the order believes held
// but is not, or is held twice); an active reservation line committed to an
// order that no order line holds (orphaned stock); and a reservation line
// two order lines claim (doubled).
func orderReservationMismatches(ctx context.Context, q queryer) ([]string, error) {
	var out []string
	var bad []struct {
		Number string  `db:"number"`
		SKU    string  `db:"sku"`
		Held   int     `db:"held"`
		ResID  *int64  `db:"reservation_id"`
		Status *string `db:"status"`
		Qty    *int    `db:"qty"`
	}
	err := q.SelectContext(ctx, &bad, `
		SELECT o.number, p.sku, ol.reserved + ol.picked AS held, ol.reservation_id, r.status, rl.qty
		FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN products p ON p.id = ol.product_id
		LEFT JOIN reservations r ON r.id = ol.reservation_id
		LEFT JOIN reservation_lines rl ON rl.reservation_id = ol.reservation_id AND rl.line_no = ol.reservation_line_no
		WHERE ol.reserved + ol.picked > 0
			AND (r.status IS NULL OR r.status NOT IN ('held', 'committed') OR rl.qty IS DISTINCT FROM ol.reserved + ol.picked
				OR rl.location_id IS DISTINCT FROM ol.location_id OR rl.product_id <> ol.product_id)
		ORDER BY o.number LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("store: check orders: %w", err)
	}
	for _, b := range bad {
		st, qty := "missing", 0
		if b.Status != nil {
			st = *b.Status
		}
		if b.Qty != nil {
			qty = *b.Qty
		}
		out = append(out, fmt.Sprintf("order %s %s: holds %d but its reservation line (%v) is %s with %d", b.Number, b.SKU, b.Held, deref(b.ResID), st, qty))
	}
	var orphans []struct {
		ID     int64  `db:"id"`
		Ref    string `db:"order_ref"`
		LineNo int    `db:"line_no"`
		Qty    int    `db:"qty"`
	}
	err = q.SelectContext(ctx, &orphans, `
		SELECT r.id, r.order_ref, rl.line_no, rl.qty
		FROM reservations r JOIN reservation_lines rl ON rl.reservation_id = r.id
		WHERE r.status IN ('held', 'committed') AND r.order_ref <> ''
			AND EXISTS (SELECT 1 FROM orders o WHERE o.number = r.order_ref)
			AND NOT EXISTS (SELECT 1 FROM order_lines ol WHERE ol.reservation_id = r.id AND ol.reservation_line_no = rl.line_no
				AND ol.reserved + ol.picked > 0)
		ORDER BY r.id LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("store: check orphaned reservations: %w", err)
	}
	for _, o := range orphans {
		out = append(out, fmt.Sprintf("reservation %d line %d holds %d for order %s, but no order line holds it", o.ID, o.LineNo, o.Qty, o.Ref))
	}
	var doubled []struct {
		ID     int64 `db:"reservation_id"`
		LineNo int   `db:"reservation_line_no"`
		N      int   `db:"n"`
	}
	err = q.SelectContext(ctx, &doubled, `SELECT reservation_id, reservation_line_no, count(*) AS n FROM order_lines
		WHERE reserved + picked > 0 GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("store: check doubled reservations: %w", err)
	}
	for _, d := range doubled {
		out = append(out, fmt.Sprintf("reservation %d line %d is held by %d order lines", d.ID, d.LineNo, d.N))
	}
	ret, err := returnMismatches(ctx, q)
	return append(out, ret...), err
}

func deref(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}
