package store

import (
	"context"
	"fmt"
)

// reservationLeaks lists positions (those scope admits) whose reserved bucket differs from the
// sum of the active (held or committed) reservation lines on them: stock
// held for nobody, or holds the bucket does not show.
func reservationLeaks(ctx context.Context, q queryer, scope func(alias string) string, args []any) ([]string, error) {
	var rows []struct {
		Location string `db:"location"`
		SKU      string `db:"sku"`
		Reserved int64  `db:"reserved"`
		Held     int64  `db:"held"`
	}
	err := q.SelectContext(ctx, &rows, `
		WITH held AS (
			SELECT rl.location_id, rl.product_id, sum(rl.qty) AS qty
			FROM reservation_lines rl JOIN reservations r ON r.id = rl.reservation_id
			WHERE r.status IN ('held', 'committed') AND `+scope("rl")+`
			GROUP BY rl.location_id, rl.product_id
		), cmp AS MATERIALIZED (
			SELECT COALESCE(p.location_id, h.location_id) AS location_id, COALESCE(p.product_id, h.product_id) AS product_id,
				COALESCE(p.reserved, 0) AS reserved, COALESCE(h.qty, 0) AS held
			FROM (SELECT location_id, product_id, reserved FROM positions p WHERE reserved <> 0 AND `+scope("p")+`) p
			FULL JOIN held h ON h.location_id = p.location_id AND h.product_id = p.product_id
		)
		SELECT l.code AS location, pr.sku, c.reserved, c.held
		FROM cmp c JOIN locations l ON l.id = c.location_id JOIN products pr ON pr.id = c.product_id
		WHERE c.reserved <> c.held ORDER BY l.code, pr.sku LIMIT 1000`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: check reservations: %w", err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s@%s: reserved %d, active reservations hold %d", r.SKU, r.Location, r.Reserved, r.Held)
	}
	return out, nil
}
