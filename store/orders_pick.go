package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// PickLine confirms a pick by the scanned barcode (or typed SKU): qty
// reserved units of the line (0: all of them) become picked. A scan of
// another product is refused with what was expected. When the last unit of
// a pickup order is picked it is ready for pickup and the customer is told.
// Errors: ENOTFOUND, EINVALID (field scan or qty), ECONFLICT.
func (db *DB) PickLine(ctx context.Context, actor domain.Actor, orderID, lineID int64, scanned string, qty int) (Order, error) {
	scanned = strings.TrimSpace(scanned)
	return db.mutateOrder(ctx, actor, orderID, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		l, err := lineAt(o, lineID)
		if err != nil {
			return err
		}
		if scanned == "" {
			return domain.FieldError("scan", "Scan the item's barcode (or type its SKU) to confirm the pick.")
		}
		if scanned != l.Barcode && !strings.EqualFold(scanned, l.SKU) {
			return domain.FieldError("scan", "%s is not this item. This line needs %s (%s), barcode %s.", scanned, l.SKU, l.ProductName, l.Barcode)
		}
		if l.Reserved == 0 {
			return domain.Errorf(domain.ECONFLICT, "Nothing of %s is waiting to be picked on order %s.", l.SKU, o.Number)
		}
		if qty == 0 {
			qty = l.Reserved
		}
		c, err := l.LineQty.Apply(domain.LinePick, qty)
		if err != nil {
			return err
		}
		l.LineQty = c.After
		if err := saveLine(ctx, tx, l); err != nil {
			return err
		}
		ch.event("picked", fmt.Sprintf("Picked %d × %s at %s (scanned %s).", qty, l.SKU, l.Location, scanned), "")
		ch.audit = "order.pick"
		ch.details = map[string]any{"sku": l.SKU, "qty": qty, "location": l.Location}
		return nil
	})
}

// RejectLine records that an associate could not pick qty units of a line
// (0: every held unit) for a reason, in one transaction. The stock effect
// is explicit: the units leave reserved through the reservation (released,
// reason item_not_found) and move into the reason's bucket —
// quality_hold with ledger reason "missing" for not found, damaged for
// damaged — so ATP at that store does not rise; a later count settles them.
// The line's units wait for a decision, the order goes on hold, an
// item_not_found exception opens for the store and SKU, the store is never
// offered again for this line, and the customer is told of the delay.
// code is the rejection's cancellation reason code for counting; "" takes
// the reason's (domain.RejectCancelReason).
// Errors: ENOTFOUND, EINVALID (reason, qty), ECONFLICT.
func (db *DB) RejectLine(ctx context.Context, actor domain.Actor, orderID, lineID int64, reason string, code domain.CancelReason, qty int, note string) (Order, error) {
	bucket, ledgerReason, err := domain.RejectEffect(reason)
	if err != nil {
		return Order{}, err
	}
	if code == "" {
		code = domain.RejectCancelReason(reason)
	}
	if len(note) > 1000 {
		return Order{}, domain.FieldError("note", "Keep the note under 1000 characters.")
	}
	return db.mutateOrder(ctx, actor, orderID, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		l, err := lineAt(o, lineID)
		if err != nil {
			return err
		}
		if l.Held() == 0 {
			return domain.Errorf(domain.ECONFLICT, "Nothing of %s is held on order %s any more.", l.SKU, o.Number)
		}
		if qty == 0 {
			qty = l.Held()
		}
		c, err := l.LineQty.Apply(domain.LineReject, qty)
		if err != nil {
			return err
		}
		loc := l.LocationID
		if err := lockOrderPositions(ctx, tx, []posKey{{loc, l.ProductID}}); err != nil {
			return err
		}
		l.LineQty = c.After
		if err := endHeld(ctx, tx, actor, l, c.FromHeld, domain.Released, "item_not_found", now); err != nil {
			return err
		}
		if _, err := applyMovements(ctx, tx, loc, l.ProductID, []domain.Movement{{Bucket: bucket, Delta: qty}}, LedgerMeta{
			Reason: ledgerReason, Source: "stockline", SourceRef: o.Number, Actor: actor, OccurredAt: now,
			Note: fmt.Sprintf("%s at pick for %s", reason, o.Number) + noteSuffix(note),
		}); err != nil {
			return err
		}
		if !slices.Contains(l.RejectedIDs, loc) {
			l.RejectedIDs = append(l.RejectedIDs, loc)
		}
		l.RejectReason = reason
		if err := saveLine(ctx, tx, l); err != nil {
			return err
		}
		if err := recordPickRejection(ctx, tx, actor, o, l, loc, qty, reason, now); err != nil {
			return err
		}
		effect := fmt.Sprintf("%d unit(s) moved from reserved to %s pending a count", qty, bucket)
		exID, err := openOrderException(ctx, tx, NewException{
			Kind: "item_not_found", Severity: "high", LocationID: loc, ProductID: l.ProductID, Ref: o.Number, OrderID: o.ID,
			Title:  fmt.Sprintf("Order %s: %d × %s %s at %s", o.Number, qty, l.SKU, rejectVerb(reason), l.Location),
			Detail: fmt.Sprintf("%s. Reallocate the line to another store, split it, or cancel it and notify the customer.%s", effect, noteSuffix(note)),
		})
		if err != nil {
			return err
		}
		ch.event("rejected", fmt.Sprintf("%d × %s %s at %s; %s.%s", qty, l.SKU, rejectVerb(reason), l.Location, effect, noteSuffix(note)), exceptionLink(exID))
		ch.hold = "item_not_found"
		ch.notifyCustomer(domain.NotifyDelayed, map[string]string{"items": fmt.Sprintf("%d × %s", qty, l.SKU), "reason": "an item could not be picked"})
		ch.audit = "order.reject_line"
		ch.details = map[string]any{"sku": l.SKU, "qty": qty, "location": l.Location, "reason": reason, "reason_code": string(code), "exception": exID}
		return nil
	})
}

func rejectVerb(reason string) string {
	if reason == domain.RejectDamaged {
		return "found damaged"
	}
	return "not found"
}

func noteSuffix(note string) string {
	if note = strings.TrimSpace(note); note != "" {
		return " Note: " + note
	}
	return ""
}

// Allocation is units of a waiting line to hold at one location.
type Allocation = domain.LineAllocation

// ReallocateLine holds a waiting line's units at other locations in one
// transaction — one allocation to move it, several to split it — checking
// ATP there under the order's channel policy. Each allocation becomes a new
// line at that location (the old line records the units as moved). A store
// that already rejected the line is refused. Once nothing waits, the hold
// ends and the item_not_found and oversell exceptions for the line are
// resolved as reallocated. Errors: ENOTFOUND, EINVALID (location, qty),
// 409 insufficient_stock.
func (db *DB) ReallocateLine(ctx context.Context, actor domain.Actor, orderID, lineID int64, allocs []Allocation) (Order, error) {
	return db.reallocateLine(ctx, actor, orderID, lineID, allocs, nil)
}

// ReallocateForException is ReallocateLine done as an exception's action:
// the reallocation and the exception's resolution record commit together.
func (db *DB) ReallocateForException(ctx context.Context, actor domain.Actor, rec ExceptionRecord, orderID, lineID int64, allocs []Allocation) (Order, error) {
	return db.reallocateLine(ctx, actor, orderID, lineID, allocs, &rec)
}

func (db *DB) reallocateLine(ctx context.Context, actor domain.Actor, orderID, lineID int64, allocs []Allocation, rec *ExceptionRecord) (Order, error) {
	if len(allocs) == 0 {
		return Order{}, domain.FieldError("location", "Choose where the units should come from.")
	}
	return db.mutateOrderRecording(ctx, actor, orderID, rec, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		l, err := lineAt(o, lineID)
		if err != nil {
			return err
		}
		total := 0
		for _, a := range allocs {
			if a.Qty <= 0 {
				return domain.FieldError("qty", "Give a quantity of at least 1 for %s.", a.Location)
			}
			total += a.Qty
		}
		if total > l.Pending {
			return domain.FieldError("qty", "Only %d unit(s) of %s wait for a decision; cannot reallocate %d.", l.Pending, l.SKU, total)
		}
		locs := make([]domain.Location, len(allocs))
		var extra []int64
		for i, a := range allocs {
			loc, err := db.LocationByCode(ctx, strings.ToUpper(strings.TrimSpace(a.Location)))
			if err != nil {
				return notFoundField(err, "location")
			}
			if slices.Contains(l.RejectedIDs, loc.ID) {
				return domain.FieldError("location", "%s already could not pick %s for this order; choose another store.", loc.Code, l.SKU)
			}
			locs[i] = loc
			extra = append(extra, loc.ID)
		}
		if err := lockOrderPositions(ctx, tx, lockKeysOf([]*OrderLine{l}, extra...)); err != nil {
			return err
		}
		var maxNo int
		for _, x := range o.Lines {
			maxNo = max(maxNo, x.LineNo)
		}
		var moved []string
		for i, a := range allocs {
			r, err := db.holdForOrder(ctx, tx, actor, domain.Channel(o.Channel), locs[i].Code, o.Number,
				[]domain.ReservationLineRequest{{SKU: l.SKU, Qty: a.Qty}}, now)
			if err != nil {
				return err
			}
			c, err := l.LineQty.Apply(domain.LineMove, a.Qty)
			if err != nil {
				return err
			}
			l.LineQty = c.After
			maxNo++
			rl := r.Lines[0]
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, product_id, location_id, reservation_id, reservation_line_no,
					qty, reserved, moved_from, rejected_location_ids, reject_reason)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10)`, o.ID, maxNo, l.ProductID, rl.LocationID, r.ID, rl.LineNo, a.Qty, l.ID,
				pq.Array(l.RejectedIDs), l.RejectReason); err != nil {
				return fmt.Errorf("store: insert reallocated line: %w", err)
			}
			moved = append(moved, fmt.Sprintf("%d at %s", a.Qty, locs[i].Code))
			ch.event("reallocated", fmt.Sprintf("Reallocated %d × %s to %s (reservation %d).", a.Qty, l.SKU, locs[i].Code, r.ID), reservationLink(o.Number, r.ID))
		}
		if err := saveLine(ctx, tx, l); err != nil {
			return err
		}
		if l.Pending == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = 'resolved', resolution_code = 'reallocated', resolution_note = $3,
					resolved_at = now(), updated_at = now(), assignee_id = COALESCE(assignee_id, $4)
				WHERE ref = $1 AND product_id = $2 AND status IN ('open', 'in_progress') AND kind IN ('item_not_found', 'oversell')`,
				o.Number, l.ProductID, "Reallocated "+strings.Join(moved, ", ")+" by "+actor.String()+".", nullID(actor.UserID)); err != nil {
				return fmt.Errorf("store: resolve exceptions: %w", err)
			}
		}
		ch.audit = "order.reallocate"
		ch.details = map[string]any{"sku": l.SKU, "to": moved}
		return nil
	})
}
