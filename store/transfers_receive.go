package store

import (
	"context"
	"fmt"
	"strings"

	"stockline/domain"
)

// ShipTransfer records what left the origin per SKU (at most what was
// approved; a SKU not named ships nothing) and the tracking reference.
// Approved units not shipped go back to sellable. Errors: 409
// not_approved, EINVALID (tracking, lines), ENOTFOUND.
func (db *DB) ShipTransfer(ctx context.Context, actor domain.Actor, id int64, lines []domain.TransferLineInput, tracking string) (domain.Transfer, error) {
	if err := domain.ValidateTracking(tracking); err != nil {
		return domain.Transfer{}, err
	}
	return db.mutateTransfer(ctx, id, func(tx *Tx, t *domain.Transfer) error {
		if err := domain.CheckTransferMove(t.Status, domain.TransferShipped); err != nil {
			return err
		}
		want := map[string]int{}
		for i, l := range lines {
			if l.Qty < 0 {
				return domain.FieldError(fmt.Sprintf("lines[%d].qty", i), "Quantities are zero or more.")
			}
			want[l.SKU] += l.Qty
		}
		total := 0
		for _, l := range t.Lines {
			if want[l.SKU] > l.Approved {
				return domain.FieldError("lines", "%s: %d approved; cannot ship %d.", l.SKU, l.Approved, want[l.SKU])
			}
			total += want[l.SKU]
			delete(want, l.SKU)
		}
		for sku := range want {
			return domain.FieldError("lines", "%s is not on this transfer.", sku)
		}
		if total == 0 {
			return domain.FieldError("lines", "Ship at least one unit.")
		}
		if _, err := lockTransferPositions(ctx, tx, *t, t.FromID, t.ToID); err != nil {
			return err
		}
		var items []string
		for _, l := range t.Lines {
			n := 0
			for _, in := range lines {
				if in.SKU == l.SKU {
					n += in.Qty
				}
			}
			origin, dest := domain.ShipSteps(l.Approved, n)
			if err := applySteps(ctx, tx, t.FromID, l.ProductID, origin, transferRef(id), actor); err != nil {
				return err
			}
			if err := applySteps(ctx, tx, t.ToID, l.ProductID, dest, transferRef(id), actor); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE transfer_lines SET shipped = $3 WHERE transfer_id = $1 AND line_no = $2`, id, l.LineNo, n); err != nil {
				return fmt.Errorf("store: ship line: %w", err)
			}
			items = append(items, fmt.Sprintf("%d of %d × %s", n, l.Approved, l.SKU))
		}
		if err := setTransferStatus(ctx, tx, actor, t, domain.TransferShipped, ", shipped_at = now()"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE transfers SET tracking = $2 WHERE id = $1`, id, strings.TrimSpace(tracking)); err != nil {
			return err
		}
		return transferEvent(ctx, tx, id, actor, "shipped", fmt.Sprintf("Shipped %s, tracking %s; in transit to %s. Units approved and not shipped went back to sellable.",
			strings.Join(items, ", "), strings.TrimSpace(tracking), t.To))
	})
}

// ReceiveTransfer records a receipt at the destination. complete=false
// keeps the transfer shipped for more receipts; complete=true makes it
// received and raises one transfer_variance exception per line that came
// short (the shortfall stays in in_transit_in) or over.
func (db *DB) ReceiveTransfer(ctx context.Context, actor domain.Actor, id int64, lines []domain.ReceiptLine, complete bool) (domain.Transfer, error) {
	if err := domain.ValidateReceipt(lines); err != nil {
		return domain.Transfer{}, err
	}
	return db.mutateTransfer(ctx, id, func(tx *Tx, t *domain.Transfer) error {
		if t.Status != domain.TransferShipped {
			if t.Status == domain.TransferApproved || t.Status == domain.TransferRequested {
				return &domain.Error{Code: domain.CodeNotShipped, Message: "The transfer has not shipped yet; there is nothing to receive."}
			}
			return domain.Errorf(domain.ECONFLICT, "The transfer is %s; it takes no more receipts.", t.Status)
		}
		got := map[string]domain.ReceiptLine{}
		for _, l := range lines {
			g := got[l.SKU]
			g.Qty, g.Damaged = g.Qty+l.Qty, g.Damaged+l.Damaged
			got[l.SKU] = g
		}
		if _, err := lockTransferPositions(ctx, tx, *t, t.ToID); err != nil {
			return err
		}
		var items []string
		for i := range t.Lines {
			l := &t.Lines[i]
			r, ok := got[l.SKU]
			delete(got, l.SKU)
			if !ok || r.Qty == 0 {
				continue
			}
			if err := applySteps(ctx, tx, t.ToID, l.ProductID, domain.ReceiveSteps(*l, r.Qty, r.Damaged), transferRef(id), actor); err != nil {
				return err
			}
			l.Received += r.Qty
			l.Damaged += r.Damaged
			if _, err := tx.ExecContext(ctx, `UPDATE transfer_lines SET received = $3, damaged = $4 WHERE transfer_id = $1 AND line_no = $2`,
				id, l.LineNo, l.Received, l.Damaged); err != nil {
				return fmt.Errorf("store: receive line: %w", err)
			}
			item := fmt.Sprintf("%d × %s", r.Qty, l.SKU)
			if r.Damaged > 0 {
				item += fmt.Sprintf(" (%d damaged)", r.Damaged)
			}
			items = append(items, item)
		}
		for sku := range got {
			return domain.FieldError("lines", "%s is not on this transfer.", sku)
		}
		msg := "Received " + strings.Join(items, ", ") + " at " + t.To + "."
		if len(items) == 0 {
			msg = "Receipt with no units."
		}
		if !complete {
			return transferEvent(ctx, tx, id, actor, "received", msg+" Partial receipt; more to come.")
		}
		if err := transferEvent(ctx, tx, id, actor, "received", msg+" Receipt complete."); err != nil {
			return err
		}
		if err := setTransferStatus(ctx, tx, actor, t, domain.TransferReceived, ", received_at = now()"); err != nil {
			return err
		}
		return raiseVariances(ctx, tx, actor, t)
	})
}

func raiseVariances(ctx context.Context, tx *Tx, actor domain.Actor, t *domain.Transfer) error {
	for _, l := range t.Lines {
		v := l.Variance()
		if v == 0 {
			continue
		}
		title := fmt.Sprintf("Transfer %d: %d × %s missing at %s", t.ID, -v, l.SKU, t.To)
		detail := fmt.Sprintf("%d shipped from %s, %d received at %s; %d unit(s) of %s stay in %s's in_transit_in until someone says found later or lost (on /transfers/%d).",
			l.Shipped, t.From, l.Received, t.To, -v, l.SKU, t.To, t.ID)
		if v > 0 {
			title = fmt.Sprintf("Transfer %d: %d × %s more than shipped at %s", t.ID, v, l.SKU, t.To)
			detail = fmt.Sprintf("%d shipped from %s, %d received at %s; the extra %d unit(s) are on hand at %s. Check the origin's count.",
				l.Shipped, t.From, l.Received, t.To, v, t.To)
		}
		if err := openException(ctx, tx, NewException{Kind: "transfer_variance", Severity: "medium", LocationID: t.ToID, ProductID: l.ProductID,
			Ref: transferRef(t.ID), TransferID: t.ID, Title: title, Detail: detail, Dedupe: true}); err != nil {
			return err
		}
		if err := transferEvent(ctx, tx, t.ID, actor, "variance", title+"; variance exception raised."); err != nil {
			return err
		}
	}
	return nil
}

// SettleVariance resolves a short line of a received transfer: found
// (the missing units arrived: in_transit_in → on_hand) or lost (a
// shrinkage movement with the transfer as its source). The line's open
// transfer_variance exception is resolved.
func (db *DB) SettleVariance(ctx context.Context, actor domain.Actor, id int64, sku string, found bool) (domain.Transfer, error) {
	return db.settleVariance(ctx, actor, id, sku, found, nil)
}

// SettleVarianceForException is SettleVariance done as a transfer
// variance exception's action (found or lost): the settlement and the
// exception's resolution record commit together.
func (db *DB) SettleVarianceForException(ctx context.Context, actor domain.Actor, rec ExceptionRecord, id int64, sku string, found bool) (domain.Transfer, error) {
	return db.settleVariance(ctx, actor, id, sku, found, &rec)
}

func (db *DB) settleVariance(ctx context.Context, actor domain.Actor, id int64, sku string, found bool, rec *ExceptionRecord) (domain.Transfer, error) {
	return db.mutateTransferRecording(ctx, id, actor, rec, func(tx *Tx, t *domain.Transfer) error {
		var line *domain.TransferLine
		for i := range t.Lines {
			if t.Lines[i].SKU == sku {
				line = &t.Lines[i]
			}
		}
		if line == nil || line.Outstanding() == 0 || t.Status != domain.TransferReceived {
			return domain.Errorf(domain.ECONFLICT, "No units of %s are outstanding on transfer %d.", sku, id)
		}
		n := line.Outstanding()
		if _, err := lockPosition(ctx, tx, t.ToID, line.ProductID); err != nil {
			return err
		}
		steps, col, code, verb := domain.LostSteps(n), "lost", "adjusted_count", "written off as lost (shrinkage)"
		if found {
			steps, col, code, verb = domain.ReceiveSteps(*line, n, 0), "received", "recounted", "found later and received"
		}
		if err := applySteps(ctx, tx, t.ToID, line.ProductID, steps, transferRef(id), actor); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE transfer_lines SET `+col+` = `+col+` + $3 WHERE transfer_id = $1 AND line_no = $2`, id, line.LineNo, n); err != nil {
			return err
		}
		msg := fmt.Sprintf("%d × %s %s by %s.", n, sku, verb, actor.Name)
		if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = 'resolved', resolution_code = $4, resolution_note = $5, resolved_at = now(), updated_at = now()
			WHERE kind = 'transfer_variance' AND ref = $1 AND location_id = $2 AND product_id = $3 AND status IN ('open', 'in_progress')`,
			transferRef(id), t.ToID, line.ProductID, code, msg); err != nil {
			return fmt.Errorf("store: resolve variance: %w", err)
		}
		if err := insertAudit(ctx, tx, actor, "transfer.variance", "transfer", fmt.Sprint(id), nil, map[string]any{"sku": sku, "found": found, "units": n}); err != nil {
			return err
		}
		return transferEvent(ctx, tx, id, actor, map[bool]string{true: "found", false: "lost"}[found], msg)
	})
}
