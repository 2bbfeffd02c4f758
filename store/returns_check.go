package store

import (
	"context"
	"fmt"
)

// returnMismatches lists order lines whose returned units differ from the
// units their returns record (the consistency check's part for returns).
func returnMismatches(ctx context.Context, q queryer) ([]string, error) {
	var bad []struct {
		Number   string `db:"number"`
		SKU      string `db:"sku"`
		Returned int    `db:"returned"`
		Recorded int    `db:"recorded"`
	}
	err := q.SelectContext(ctx, &bad, `
		SELECT o.number, p.sku, ol.returned, COALESCE(r.q, 0) AS recorded
		FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN products p ON p.id = ol.product_id
		LEFT JOIN (SELECT order_line_id, sum(qty) AS q FROM return_lines GROUP BY 1) r ON r.order_line_id = ol.id
		WHERE ol.returned <> COALESCE(r.q, 0)
		ORDER BY o.number LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("store: check returns: %w", err)
	}
	out := make([]string, 0, len(bad))
	for _, b := range bad {
		out = append(out, fmt.Sprintf("order %s %s: %d unit(s) returned but its returns record %d", b.Number, b.SKU, b.Returned, b.Recorded))
	}
	return out, nil
}
