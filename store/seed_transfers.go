package store

import (
	"context"
	"fmt"

	"stockline/domain"
)

// SeedDemoTransfers adds demo transfers in every state, through the same
// store functions the pages use (so every bucket moves through the stock
// primitive and the ledger agrees): a request waiting for the demo
// manager (origin S02), one approved, one rejected, one cancelled after
// approval, one shipped and in transit to the demo associate's store S01,
// one in transit for a week (flagged overdue), and one received short at
// S01 with its transfer_variance exception open. SKUs are picked in a
// fixed pseudo-random order (md5), not the first SKUs that tests use. A
// database that already has transfers is left alone. It returns how many
// it created.
func (db *DB) SeedDemoTransfers(ctx context.Context) (int, error) {
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM transfers`); err != nil {
		return 0, err
	}
	if n > 0 {
		return 0, nil
	}
	mgr := domain.Actor{Kind: "user", Name: "manager@demo.stockline"}
	assoc := domain.Actor{Kind: "user", Name: "associate@demo.stockline"}
	used := map[string]bool{}
	sku := func(from string, atp int) (string, error) {
		var skus []string
		err := db.SelectContext(ctx, &skus, `SELECT pr.sku FROM positions p JOIN locations l ON l.id = p.location_id JOIN products pr ON pr.id = p.product_id
			WHERE l.code = $1 AND `+fmt.Sprintf(domain.ATPSQL, "0")+` >= $2 ORDER BY md5(pr.sku) LIMIT 40`, from, atp)
		if err != nil {
			return "", err
		}
		for _, s := range skus {
			if !used[s] {
				used[s] = true
				return s, nil
			}
		}
		return "", fmt.Errorf("store: seed transfers: no SKU at %s with %d available", from, atp)
	}
	type step func(id int64) error
	plan := []struct {
		from, to, reason string
		qty              int
		steps            []step
	}{
		{"S02", "S01", "Stockout at Downtown before the weekend", 4, []step{
			func(id int64) error {
				_, err := db.ExecContext(ctx, `UPDATE transfers SET needed_by = current_date + 3 WHERE id = $1`, id)
				return err
			}}},
		{"DC1", "S03", "Replenish Lakeshore", 6, []step{
			func(id int64) error { _, err := db.ApproveTransfer(ctx, mgr, id, "OK from the DC"); return err }}},
		{"S03", "S05", "Move slow stock", 3, []step{
			func(id int64) error { _, err := db.RejectTransfer(ctx, mgr, id, "Eastgate has enough"); return err }}},
		{"DC1", "S04", "Promotion stock", 5, []step{
			func(id int64) error { _, err := db.ApproveTransfer(ctx, mgr, id, ""); return err },
			func(id int64) error { _, err := db.CancelTransfer(ctx, mgr, id); return err }}},
		{"S04", "S01", "Customer orders waiting at Downtown", 5, []step{
			func(id int64) error { _, err := db.ApproveTransfer(ctx, mgr, id, ""); return err },
			func(id int64) error { return db.seedShip(ctx, mgr, id, "1Z-DEMO-0001", 0) }}},
		{"DC1", "S02", "Weekly replenishment", 8, []step{
			func(id int64) error { _, err := db.ApproveTransfer(ctx, mgr, id, ""); return err },
			func(id int64) error { return db.seedShip(ctx, mgr, id, "1Z-DEMO-0002", 7) }}},
		{"S05", "S01", "Rebalance from Eastgate", 4, []step{
			func(id int64) error { _, err := db.ApproveTransfer(ctx, mgr, id, ""); return err },
			func(id int64) error { return db.seedShip(ctx, mgr, id, "1Z-DEMO-0003", 2) },
			func(id int64) error {
				t, err := db.TransferByID(ctx, id)
				if err != nil {
					return err
				}
				_, err = db.ReceiveTransfer(ctx, assoc, id, []domain.ReceiptLine{{SKU: t.Lines[0].SKU, Qty: 3, Damaged: 1}}, true)
				return err
			}}},
	}
	for _, p := range plan {
		s, err := sku(p.from, p.qty+2)
		if err != nil {
			return n, err
		}
		t, err := db.CreateTransfer(ctx, assoc, domain.NewTransfer{From: p.from, To: p.to, Reason: p.reason, Lines: []domain.TransferLineInput{{SKU: s, Qty: p.qty}}})
		if err != nil {
			return n, fmt.Errorf("store: seed transfer %s→%s: %w", p.from, p.to, err)
		}
		n++
		for _, st := range p.steps {
			if err := st(t.ID); err != nil {
				return n, fmt.Errorf("store: seed transfer %d: %w", t.ID, err)
			}
		}
	}
	return n, nil
}

// seedShip ships every approved unit and dates the shipment daysAgo days
// back (the transfer's shipped_at and its timeline), so the demo has a
// transfer long in transit.
func (db *DB) seedShip(ctx context.Context, actor domain.Actor, id int64, tracking string, daysAgo int) error {
	t, err := db.TransferByID(ctx, id)
	if err != nil {
		return err
	}
	var lines []domain.TransferLineInput
	for _, l := range t.Lines {
		lines = append(lines, domain.TransferLineInput{SKU: l.SKU, Qty: l.Approved})
	}
	if _, err := db.ShipTransfer(ctx, actor, id, lines, tracking); err != nil {
		return err
	}
	if daysAgo == 0 {
		return nil
	}
	return db.InTx(ctx, func(tx *Tx) error {
		back := fmt.Sprintf("%d days", daysAgo)
		if _, err := tx.ExecContext(ctx, `UPDATE transfers SET shipped_at = shipped_at - $2::interval, approved_at = approved_at - $2::interval,
			created_at = created_at - $2::interval - interval '1 day' WHERE id = $1`, id, back); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE transfer_events SET at = at - $2::interval - CASE kind WHEN 'requested' THEN interval '1 day' ELSE interval '0' END
			WHERE transfer_id = $1`, id, back)
		return err
	})
}
