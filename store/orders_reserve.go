package store

// The bridge between orders and the reservation engine (reservations.go).
// Orders never touch the reserved bucket themselves: they hold stock with
// reserveInTx, commit it with commitInTx, and give it back or fulfil it by
// closing (part of) a reservation with closeReservations, so every ledger
// row of an order's stock carries source_ref "reservation:<id>" and the
// reserved bucket always equals the active reservation lines.

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
)

// holdForOrder reserves lines for an order inside tx under the channel's
// policy, at location (a code) when one is given, and commits the hold to
// the order number. Too little stock is the domain's 409
// insufficient_stock error with nothing written.
func (db *DB) holdForOrder(ctx context.Context, tx *Tx, actor domain.Actor, ch domain.Channel, location, orderNumber string,
	lines []domain.ReservationLineRequest, now time.Time) (domain.Reservation, error) {
	req := domain.ReservationRequest{Channel: ch, Location: location, CheckoutRef: orderNumber, Lines: lines}
	rq, err := db.resolveReservation(ctx, req)
	if err != nil {
		return domain.Reservation{}, err
	}
	r, err := reserveInTx(ctx, tx, actor, rq, now)
	if err != nil {
		return r, err
	}
	return commitInTx(ctx, tx, db, actor, r.ID, orderNumber, now)
}

// commitForOrder commits an existing reservation to the order inside tx.
func (db *DB) commitForOrder(ctx context.Context, tx *Tx, actor domain.Actor, id int64, orderNumber string, now time.Time) (domain.Reservation, error) {
	return commitInTx(ctx, tx, db, actor, id, orderNumber, now)
}

// takeFromReservation ends n units of one reservation line: they are
// fulfilled (left on_hand) or released (back to ATP), through the
// reservation engine, inside tx. A whole single-line reservation is closed
// as it is. Otherwise the n units are split off into a reservation of their
// own (same channel, order and expiry; audited as reservation.split) and
// that one is closed, so the original keeps holding exactly the rest. It
// returns the reservation and line number that now record the closed
// units: where an order line that gave all its units should point.
func takeFromReservation(ctx context.Context, tx *Tx, actor domain.Actor, resID int64, lineNo, n int,
	to domain.ReservationStatus, reason string, now time.Time) (int64, int, error) {
	r, err := lockReservation(ctx, tx, resID)
	if err != nil {
		return 0, 0, err
	}
	if !domain.CanTransition(r.Status, to) {
		return 0, 0, domain.TransitionError(r.ID, r.Status, to)
	}
	var line *domain.ReservationLine
	for i := range r.Lines {
		if r.Lines[i].LineNo == lineNo {
			line = &r.Lines[i]
		}
	}
	if line == nil || line.Qty < n || n <= 0 {
		return 0, 0, fmt.Errorf("store: reservation %d line %d cannot give %d units", resID, lineNo, n)
	}
	if line.Qty == n && len(r.Lines) == 1 {
		_, err := closeReservations(ctx, tx, actor, []domain.Reservation{r}, to, reason, now)
		return r.ID, lineNo, err
	}
	ids, err := nextReservationIDs(ctx, tx, 1)
	if err != nil {
		return 0, 0, err
	}
	splitID := ids[0]
	if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (id, channel, status, checkout_ref, order_ref, expires_at, created_at, created_by, committed_at)
		SELECT $2, channel, status, checkout_ref, order_ref, expires_at, $3, $4, committed_at FROM reservations WHERE id = $1`,
		resID, splitID, now, actor.String()); err != nil {
		return 0, 0, fmt.Errorf("store: split reservation: %w", err)
	}
	if line.Qty == n {
		_, err = tx.ExecContext(ctx, `UPDATE reservation_lines SET reservation_id = $3, line_no = 1 WHERE reservation_id = $1 AND line_no = $2`,
			resID, lineNo, splitID)
	} else {
		_, err = tx.ExecContext(ctx, `WITH u AS (UPDATE reservation_lines SET qty = qty - $3 WHERE reservation_id = $1 AND line_no = $2
				RETURNING location_id, product_id)
			INSERT INTO reservation_lines (reservation_id, line_no, location_id, product_id, qty) SELECT $4, 1, location_id, product_id, $3 FROM u`,
			resID, lineNo, n, splitID)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: split reservation line: %w", err)
	}
	if err := insertAudit(ctx, tx, actor, "reservation.split", "reservation", fmt.Sprint(resID),
		map[string]any{"line": lineNo, "qty": line.Qty},
		map[string]any{"line": lineNo, "qty": line.Qty - n, "split_to": splitID, "split_qty": n, "sku": line.SKU, "location": line.Location}); err != nil {
		return 0, 0, err
	}
	split, err := lockReservation(ctx, tx, splitID)
	if err != nil {
		return 0, 0, err
	}
	if _, err := closeReservations(ctx, tx, actor, []domain.Reservation{split}, to, reason, now); err != nil {
		return 0, 0, err
	}
	return splitID, 1, nil
}

// lockOrderPositions locks every position keyed by (location, product) in
// the engine's one lock order, before an order operation that touches
// several, so two operations never wait on each other in a cycle.
func lockOrderPositions(ctx context.Context, tx *Tx, keys []posKey) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := lockStock(ctx, tx, keys, false)
	return err
}
