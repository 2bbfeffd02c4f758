package main

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
	"stockline/store"
)

// metricsRound measures what the background job does each round at this
// size: n orders placed through the real write path (one in ten placed
// days ago, as a connector's late orders are; a unit of one in five
// cancelled; a receipt at S01 every ten orders, so today's ledger day is
// dirty too), then one incremental round timed beside a full rebuild of
// the same data, and the rollups checked equal to the raw queries again.
func metricsRound(ctx context.Context, h *harness, db *store.DB, f store.MetricFilter, n int) error {
	var skus []string
	if err := db.SelectContext(ctx, &skus, `SELECT sku FROM products ORDER BY id LIMIT 50`); err != nil {
		return err
	}
	stores := []string{"S01", "S02", "S03", "S04"}
	actor := domain.SystemActor("bench")
	t0 := time.Now()
	for i := range n {
		in := domain.NewOrder{Channel: domain.BOPIS, PickupLocation: stores[i%len(stores)],
			Customer: domain.Customer{Name: "Bench Customer", Email: fmt.Sprintf("round%d@example.com", i), Phone: "+1 555 010 2000"},
			Lines:    []domain.OrderLineInput{{SKU: skus[i%len(skus)], Qty: 2}}}
		if i%10 == 3 {
			in.PlacedAt = time.Now().Add(-time.Duration(1+i%20) * 24 * time.Hour)
		}
		res, err := db.CreateOrder(ctx, actor, in)
		if err != nil {
			return fmt.Errorf("metrics round: order %d: %w", i, err)
		}
		if i%5 == 0 {
			if _, err := db.CancelOrder(ctx, actor, res.Order.ID, store.CancelRequest{
				Lines: []domain.OrderLineInput{{SKU: in.Lines[0].SKU, Qty: 1}}, ReasonCode: domain.CancelReasons[i%len(domain.CancelReasons)]}); err != nil {
				return fmt.Errorf("metrics round: cancel: %w", err)
			}
		}
		if i%10 == 0 {
			one := 1
			if _, err := db.Adjust(ctx, actor, in.Lines[0].SKU, "S01", domain.Adjustment{Reason: domain.ReasonReceived, Delta: &one}); err != nil {
				return fmt.Errorf("metrics round: receipt: %w", err)
			}
		}
	}
	writes := time.Since(t0)
	round, err := db.RefreshRollups(ctx, "bench")
	if err != nil {
		return err
	}
	if round.Full {
		return fmt.Errorf("metrics round: the round after %d orders rebuilt everything", n)
	}
	full, err := db.RebuildRollups(ctx, "bench")
	if err != nil {
		return err
	}
	h.addCheck("metrics", fmt.Sprintf("rollups equal the raw queries after %d more orders and an incremental round", n), rollupsAgree(ctx, db, f))
	fmt.Fprintf(h.out, "rollup round after %d new orders (%s to write): incremental %s (%d dirty days), full rebuild %s (%.0f×)\n",
		n, writes.Round(100*time.Millisecond), round.Took.Round(time.Millisecond), round.Days, full.Took.Round(10*time.Millisecond),
		float64(full.Took)/float64(max(round.Took, time.Microsecond)))
	h.rows = append(h.rows, latencyRow("metrics", fmt.Sprintf("rollup round after %d orders (incremental; base: full rebuild)", n), round.Took, full.Took, 0))
	return nil
}
