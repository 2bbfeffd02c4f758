package store

import (
	"context"
	"fmt"

	"stockline/domain"
)

// OrderFulfilments lists an order's shipments and pickups, oldest first,
// each with the units it took per line.
func (db *DB) OrderFulfilments(ctx context.Context, orderID int64) ([]domain.Fulfilment, error) {
	var out []domain.Fulfilment
	if err := db.SelectContext(ctx, &out, `SELECT f.id, f.kind, l.code AS location, f.carrier, f.tracking, f.created_at, f.created_by
		FROM fulfilments f JOIN locations l ON l.id = f.location_id WHERE f.order_id = $1 ORDER BY f.id`, orderID); err != nil {
		return nil, fmt.Errorf("store: fulfilments: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	var lines []struct {
		FulfilmentID int64 `db:"fulfilment_id"`
		domain.FulfilmentLine
	}
	if err := db.SelectContext(ctx, &lines, `SELECT fl.fulfilment_id, fl.order_line_id, p.sku, fl.qty
		FROM fulfilments f JOIN fulfilment_lines fl ON fl.fulfilment_id = f.id
		JOIN order_lines ol ON ol.id = fl.order_line_id JOIN products p ON p.id = ol.product_id
		WHERE f.order_id = $1 ORDER BY fl.fulfilment_id, ol.line_no`, orderID); err != nil {
		return nil, fmt.Errorf("store: fulfilment lines: %w", err)
	}
	at := make(map[int64]int, len(out))
	for i, f := range out {
		at[f.ID] = i
	}
	for _, l := range lines {
		if i, ok := at[l.FulfilmentID]; ok {
			out[i].Lines = append(out[i].Lines, l.FulfilmentLine)
		}
	}
	return out, nil
}
