package store

import (
	"context"
	"fmt"

	"stockline/domain"
)

// demoException is one exception of the demo retailer's queue.
type demoException struct {
	kind, severity, location, ref, title, detail string
	ageMinutes                                   int // raised this long ago; its due time follows from the SLA, so some are overdue
}

// demoExceptions are varied kinds, severities and ages in the demo users'
// stores (the associate has S01, the manager S01-S06) and, for the feed
// and check kinds, with no store (inventory leads' and admins').
var demoExceptions = []demoException{
	{domain.KindItemNotFound, "high", "S01", "demo-pick-1", "2 × the first demo SKU not found at pick", "The shelf was empty at pick time. Count the shelf, then reallocate or cancel the line.", 95},
	{domain.KindPickupOverdue, "medium", "S01", "demo-pickup-1", "Pickup window at S01 ended", "The customer has not collected the order. Call them, then cancel the open units or mark it handled.", 150},
	{domain.KindPickupLocationChange, "medium", "S01", "demo-change-1", "An order now collects at S01 (was S03)", "Prepare it at S01 before the new promised time.", 12},
	{domain.KindNegativeStock, "high", "S02", "", "Stock position out of bounds at S02", "on_hand -2 after sale from square-pos. Count the shelf and adjust.", 300},
	{domain.KindOversell, "critical", "S03", "demo-oversell-1", "An order could not be reserved at S03", "The web order arrived with too little stock. Reallocate or cancel the line.", 40},
	{domain.KindPaymentBeforeStock, "high", "S04", "demo-payment-1", "Payment captured before stock was confirmed", "The platform captured payment for a line that could not be reserved.", 20},
	{domain.KindPartialShipment, "low", "S05", "demo-ship-1", "Order shipped in part: 1 unit still open", "Ship the open unit when it is ready, or cancel it and notify the customer.", 600},
	{domain.KindTransferVariance, "medium", "S06", "demo-transfer-1", "Transfer: 2 units missing at S06", "2 units stay in S06's in_transit_in until someone says found later or lost.", 2000},
	{domain.KindNegativeStock, "medium", "S09", "", "Stock position out of bounds at S09", "on_hand -1 after a late POS sale.", 4300},
	{domain.KindFeedStale, "high", "", "connector:demo-warehouse", "Feed demo-warehouse is failing: 6 pulls in a row", "Last error: 503 Service Unavailable.", 75},
	{domain.KindDeadLetter, "medium", "", "connector:demo-warehouse", "Events dead-lettered on demo-warehouse", "3 event(s) could not be applied: unknown SKU.", 30},
	{domain.KindCheckFailed, "critical", "", "check", "Consistency check found 1 violation(s)", "1 reservation leak. Run the check again once it is explained.", 5},
}

// seedDemoExceptions raises the demo queue: real rows, with their opening
// timeline entries, aged by moving created_at back and the due time with
// it (the SLA table decides it).
func (db *DB) seedDemoExceptions(ctx context.Context) error {
	return db.InTx(ctx, func(tx *Tx) error {
		var prod int64
		if err := tx.GetContext(ctx, &prod, `SELECT id FROM products ORDER BY sku LIMIT 1`); err != nil {
			return fmt.Errorf("store: demo exceptions: %w", err)
		}
		for _, d := range demoExceptions {
			e := NewException{Kind: d.kind, Severity: d.severity, Ref: d.ref, Title: d.title, Detail: d.detail}
			if d.location != "" {
				if err := tx.GetContext(ctx, &e.LocationID, `SELECT id FROM locations WHERE code = $1`, d.location); err != nil {
					return fmt.Errorf("store: demo exception at %s: %w", d.location, err)
				}
				e.ProductID = prod
			}
			id, err := openExceptionID(ctx, tx, e)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET created_at = created_at - $2 * interval '1 minute',
				due_at = due_at - $2 * interval '1 minute', updated_at = now() WHERE id = $1`, id, d.ageMinutes); err != nil {
				return fmt.Errorf("store: age demo exception: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE exception_events SET at = at - $2 * interval '1 minute' WHERE exception_id = $1`, id, d.ageMinutes); err != nil {
				return fmt.Errorf("store: age demo exception: %w", err)
			}
		}
		return nil
	})
}
