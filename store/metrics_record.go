package store

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
)

// recordCancellation writes the countable row of a cancellation: units
// taken from line l under code, in the transaction that cancels them.
func recordCancellation(ctx context.Context, tx *Tx, actor domain.Actor, o *Order, l *OrderLine, units int, code domain.CancelReason, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO line_cancellations
		(order_id, order_line_id, product_id, location_id, channel, reason_code, units, actor, cancelled_at)
		VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7, $8, $9)`,
		o.ID, l.ID, l.ProductID, l.LocationID, o.Channel, string(code), units, actor.String(), now)
	if err != nil {
		return fmt.Errorf("store: record cancellation of line %d: %w", l.ID, err)
	}
	return nil
}

// recordPickRejection writes the countable row of a pick rejection at
// location loc, in the transaction that rejects the units.
func recordPickRejection(ctx context.Context, tx *Tx, actor domain.Actor, o *Order, l *OrderLine, loc int64, units int, reject string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO pick_rejections
		(order_id, order_line_id, product_id, location_id, channel, reject_reason, reason_code, units, actor, rejected_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		o.ID, l.ID, l.ProductID, loc, o.Channel, reject, string(domain.RejectCancelReason(reject)), units, actor.String(), now)
	if err != nil {
		return fmt.Errorf("store: record pick rejection of line %d: %w", l.ID, err)
	}
	return nil
}
