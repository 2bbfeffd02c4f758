package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// openOrderException opens an exception inside tx and returns its id.
func openOrderException(ctx context.Context, tx *Tx, e NewException) (int64, error) {
	return openExceptionID(ctx, tx, e)
}

// reservationLink is where a reservation of an order can be seen: the
// reservations page filtered to the order's number.
func reservationLink(number string, id int64) string {
	return fmt.Sprintf("/reservations?ref=%s&status=&r=%d", number, id)
}
func exceptionLink(id int64) string { return fmt.Sprintf("/exceptions/%d", id) }

// orderChange collects what one operation did, for finishOrder to write.
type orderChange struct {
	events  []orderEvent
	notify  []notifyReq
	hold    string // set when the operation puts the order on hold, and why
	audit   string // audit action, e.g. order.cancel
	details map[string]any
}

type orderEvent struct{ kind, message, link string }

type notifyReq struct {
	kind string
	vars map[string]string
}

func (c *orderChange) event(kind, message, link string) {
	c.events = append(c.events, orderEvent{kind, message, link})
}

func (c *orderChange) notifyCustomer(kind string, vars map[string]string) {
	c.notify = append(c.notify, notifyReq{kind, vars})
}

// finishOrder ends every order operation inside its transaction: it
// settles the hold (cleared once no units wait for a decision), derives
// the status from the lines and refuses a move the transition table
// forbids, then writes the header, the timeline events, the status event,
// the customer notifications, the audit row and the outbox event.
func finishOrder(ctx context.Context, tx *Tx, actor domain.Actor, source string, o *Order, before string, ch *orderChange, now time.Time) error {
	pending := 0
	for _, l := range o.Lines {
		pending += l.Pending
	}
	switch {
	case pending == 0:
		o.HoldReason = ""
	case ch.hold != "":
		o.HoldReason = ch.hold
	case o.HoldReason == "":
		o.HoldReason = "review"
	}
	status := domain.DeriveOrderStatus(o.Facts())
	if err := domain.CheckOrderMove(before, status); err != nil {
		return err
	}
	if status != before {
		ch.event("status", fmt.Sprintf("Status: %s → %s.", domain.OrderStatusLabel(before), domain.OrderStatusLabel(status)), "")
		if status == domain.OrderReadyForPickup {
			ch.notifyCustomer(domain.NotifyReadyForPickup, nil)
		}
	}
	o.Status = status
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = $2, hold_reason = $3, updated_at = $4,
			ready_at = CASE WHEN $2 = 'ready_for_pickup' AND status <> 'ready_for_pickup' THEN $4 ELSE ready_at END,
			closed_at = CASE WHEN $2 IN ('completed', 'cancelled') THEN COALESCE(closed_at, $4) ELSE NULL END
		WHERE id = $1`, o.ID, status, o.HoldReason, now); err != nil {
		return fmt.Errorf("store: update order: %w", err)
	}
	if status == domain.OrderCompleted || status == domain.OrderCancelled {
		if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = 'resolved', resolution_code = 'other',
				resolution_note = $2, resolved_at = now(), updated_at = now()
			WHERE ref = $1 AND ref <> '' AND status IN ('open', 'in_progress') AND kind IN ('oversell', 'item_not_found', 'payment_before_stock')`,
			o.Number, "Order "+o.Number+" is "+domain.OrderStatusLabel(status)+"."); err != nil {
			return fmt.Errorf("store: close order exceptions: %w", err)
		}
	}
	for _, n := range ch.notify {
		if err := queueNotification(ctx, tx, o, n.kind, n.vars, ch); err != nil {
			return err
		}
	}
	if err := insertOrderEvents(ctx, tx, o.ID, actor, source, ch.events, now); err != nil {
		return err
	}
	if ch.audit != "" {
		after := map[string]any{"status": status, "hold_reason": o.HoldReason}
		for k, v := range ch.details {
			after[k] = v
		}
		if err := insertAudit(ctx, tx, actor, ch.audit, "order", fmt.Sprint(o.ID), map[string]any{"status": before}, after); err != nil {
			return err
		}
	}
	return insertOutbox(ctx, tx, "order.updated", map[string]any{"id": o.ID, "number": o.Number, "from": before, "status": status,
		"pickup_location": o.PickupLocation})
}

func insertOrderEvents(ctx context.Context, tx *Tx, orderID int64, actor domain.Actor, source string, evs []orderEvent, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	kinds, msgs, links := make([]string, len(evs)), make([]string, len(evs)), make([]string, len(evs))
	for i, e := range evs {
		kinds[i], msgs[i], links[i] = e.kind, e.message, e.link
	}
	if source == "" {
		source = sourceOf(actor)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO order_events (order_id, at, kind, actor, source, message, link)
		SELECT $1, $2, k, $3, $4, m, l FROM unnest($5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS t(k, m, l, n) ORDER BY n`,
		orderID, now, actor.String(), source, pq.Array(kinds), pq.Array(msgs), pq.Array(links))
	if err != nil {
		return fmt.Errorf("store: order events: %w", err)
	}
	return nil
}

// saveLine writes a line's location, reservation and quantities.
func saveLine(ctx context.Context, tx *Tx, l *OrderLine) error {
	if err := l.LineQty.Check(); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE order_lines SET location_id = $2, reservation_id = $3, reservation_line_no = $4,
			pending = $5, reserved = $6, picked = $7, shipped = $8, picked_up = $9, cancelled = $10, returned = $11, moved = $12,
			rejected_location_ids = $13, reject_reason = $14
		WHERE id = $1`, l.ID, nullID(l.LocationID), nullID(l.ReservationID), nullID(int64(l.ReservationLineNo)),
		l.Pending, l.Reserved, l.Picked, l.Shipped, l.PickedUp, l.Cancelled, l.Returned, l.Moved, pq.Array(l.RejectedIDs), l.RejectReason)
	if err != nil {
		return fmt.Errorf("store: save order line: %w", err)
	}
	return nil
}

// endHeld ends n held units of a line through its reservation (fulfilled
// or released) and points the line at the reservation that records them
// when the line holds nothing more.
func endHeld(ctx context.Context, tx *Tx, actor domain.Actor, l *OrderLine, n int, to domain.ReservationStatus, reason string, now time.Time) error {
	if n == 0 {
		return nil
	}
	if l.ReservationID == 0 || l.ReservationLineNo == 0 {
		return fmt.Errorf("store: order line %d holds units without a reservation", l.ID)
	}
	resID, lineNo, err := takeFromReservation(ctx, tx, actor, l.ReservationID, l.ReservationLineNo, n, to, reason, now)
	if err != nil {
		return err
	}
	if l.Held() == 0 {
		l.ReservationID, l.ReservationLineNo = resID, lineNo
	}
	return nil
}

// mutateOrder runs one operation on a locked order and finishes it.
func (db *DB) mutateOrder(ctx context.Context, actor domain.Actor, id int64, fn func(tx *Tx, o *Order, ch *orderChange, now time.Time) error) (Order, error) {
	return db.mutateOrderRecording(ctx, actor, id, nil, fn)
}

// mutateOrderRecording is mutateOrder that also records an exception's
// resolution (rec, when not nil) in the same transaction.
func (db *DB) mutateOrderRecording(ctx context.Context, actor domain.Actor, id int64, rec *ExceptionRecord,
	fn func(tx *Tx, o *Order, ch *orderChange, now time.Time) error) (Order, error) {
	var out Order
	err := db.InTx(ctx, func(tx *Tx) error {
		o, err := loadOrder(ctx, tx, `o.id = $1`, id, true)
		if err != nil {
			return err
		}
		before := o.Status
		ch := &orderChange{}
		now := db.stamp()
		if err := fn(tx, &o, ch, now); err != nil {
			return err
		}
		if err := finishOrder(ctx, tx, actor, "", &o, before, ch, now); err != nil {
			return err
		}
		if err := recordExceptionActionTx(ctx, tx, actor, rec); err != nil {
			return err
		}
		out, err = loadOrder(ctx, tx, `o.id = $1`, id, false)
		return err
	})
	return out, err
}

func lockKeysOf(lines []*OrderLine, extra ...int64) []posKey {
	var keys []posKey
	for _, l := range lines {
		if l.LocationID != 0 {
			keys = append(keys, posKey{l.LocationID, l.ProductID})
		}
		for _, loc := range extra {
			keys = append(keys, posKey{loc, l.ProductID})
		}
	}
	return keys
}

// lineAt returns the line and checks it belongs to the order.
func lineAt(o *Order, lineID int64) (*OrderLine, error) {
	for i := range o.Lines {
		if o.Lines[i].ID == lineID {
			return &o.Lines[i], nil
		}
	}
	return nil, domain.Errorf(domain.ENOTFOUND, "Order %s has no line %d.", o.Number, lineID)
}

// AddNote adds a person's note to the order's timeline. Errors: ENOTFOUND,
// EINVALID (text).
func (db *DB) AddNote(ctx context.Context, actor domain.Actor, orderID int64, text string) (Order, error) {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 2000 {
		return Order{}, domain.FieldError("note", "Write a note of 1 to 2000 characters.")
	}
	return db.mutateOrder(ctx, actor, orderID, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		ch.event("note", text, "")
		ch.audit = "order.note"
		return nil
	})
}
