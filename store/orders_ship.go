package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"stockline/domain"
)

// fulfilLines moves qty(l) units of each line out through fulfilment fid
// by the line operation op (pick-up or ship): the line's quantity states
// change, its reservation units are fulfilled (on_hand goes down through
// the ledger), and a fulfilment line records them. It returns "n × SKU"
// per line for the timeline.
func fulfilLines(ctx context.Context, tx *Tx, actor domain.Actor, fid int64, lines []*OrderLine, op string, qty func(*OrderLine) int, now time.Time) ([]string, error) {
	var items []string
	for _, l := range lines {
		n := qty(l)
		c, err := l.LineQty.Apply(op, n)
		if err != nil {
			return nil, err
		}
		l.LineQty = c.After
		if err := endHeld(ctx, tx, actor, l, n, domain.Fulfilled, "", now); err != nil {
			return nil, err
		}
		if err := saveLine(ctx, tx, l); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO fulfilment_lines (fulfilment_id, order_line_id, qty) VALUES ($1, $2, $3)`, fid, l.ID, n); err != nil {
			return nil, fmt.Errorf("store: fulfilment line: %w", err)
		}
		items = append(items, fmt.Sprintf("%d × %s", n, l.SKU))
	}
	return items, nil
}

// HandOver records that the customer collected every picked unit of a
// pickup order: the units leave on_hand through their reservations
// (ledger reason fulfilled) and a pickup fulfilment records them. Errors:
// ENOTFOUND, ECONFLICT (nothing picked, not a pickup order).
func (db *DB) HandOver(ctx context.Context, actor domain.Actor, orderID int64) (Order, error) {
	return db.mutateOrder(ctx, actor, orderID, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		if o.Fulfilment != domain.FulfilPickup {
			return domain.Errorf(domain.ECONFLICT, "Order %s ships; it is not collected in store.", o.Number)
		}
		var lines []*OrderLine
		for i := range o.Lines {
			if o.Lines[i].Picked > 0 {
				lines = append(lines, &o.Lines[i])
			}
		}
		if len(lines) == 0 {
			return domain.Errorf(domain.ECONFLICT, "Nothing on order %s is picked yet; pick the items before handing them over.", o.Number)
		}
		if err := lockOrderPositions(ctx, tx, lockKeysOf(lines)); err != nil {
			return err
		}
		var fid int64
		if err := tx.GetContext(ctx, &fid, `INSERT INTO fulfilments (order_id, location_id, kind, created_at, created_by)
			VALUES ($1, $2, 'pickup', $3, $4) RETURNING id`, o.ID, nullID(o.PickupLocationID), now, actor.String()); err != nil {
			return fmt.Errorf("store: fulfilment: %w", err)
		}
		items, err := fulfilLines(ctx, tx, actor, fid, lines, domain.LinePickUp, func(l *OrderLine) int { return l.Picked }, now)
		if err != nil {
			return err
		}
		ch.event("picked_up", fmt.Sprintf("Customer collected %s at %s.", strings.Join(items, ", "), o.PickupLocation), "")
		ch.audit = "order.hand_over"
		ch.details = map[string]any{"fulfilment": fid, "items": items}
		return nil
	})
}

// ShipLine is units of one order line in a shipment.
type ShipLine struct {
	LineID int64
	Qty    int
}

// Ship records a shipment from one location with its tracking number: the
// units leave on_hand through their reservations (ledger reason
// fulfilled), a shipment fulfilment records the lines, and the customer is
// told (partially shipped while units stay open). The rest of the order
// stays open. Errors: ENOTFOUND, EINVALID (tracking, qty), ECONFLICT.
func (db *DB) Ship(ctx context.Context, actor domain.Actor, orderID int64, location string, lines []ShipLine, carrier, tracking string) (Order, error) {
	tracking, carrier = strings.TrimSpace(tracking), strings.TrimSpace(carrier)
	if tracking == "" || len(tracking) > 100 {
		return Order{}, domain.FieldError("tracking", "Enter the shipment's tracking number (up to 100 characters).")
	}
	if len(carrier) > 100 {
		return Order{}, domain.FieldError("carrier", "Keep the carrier name under 100 characters.")
	}
	loc, err := db.LocationByCode(ctx, location)
	if err != nil {
		return Order{}, err
	}
	return db.mutateOrder(ctx, actor, orderID, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		if o.Fulfilment != domain.FulfilShip {
			return domain.Errorf(domain.ECONFLICT, "Order %s is collected in store; it does not ship.", o.Number)
		}
		var picked []*OrderLine
		want := map[int64]int{}
		for _, sl := range lines {
			l, err := lineAt(o, sl.LineID)
			if err != nil {
				return err
			}
			if sl.Qty == 0 {
				continue
			}
			if l.LocationID != loc.ID {
				return domain.FieldError("qty", "%s is held at %s, not %s.", l.SKU, l.Location, loc.Code)
			}
			if sl.Qty < 0 || sl.Qty > l.Held() {
				return domain.FieldError("qty", "%s has %d unit(s) ready to ship at %s; cannot ship %d.", l.SKU, l.Held(), loc.Code, sl.Qty)
			}
			want[l.ID] = sl.Qty
			picked = append(picked, l)
		}
		if len(picked) == 0 {
			return domain.FieldError("qty", "Choose at least one unit to ship.")
		}
		if err := lockOrderPositions(ctx, tx, lockKeysOf(picked)); err != nil {
			return err
		}
		var fid int64
		if err := tx.GetContext(ctx, &fid, `INSERT INTO fulfilments (order_id, location_id, kind, carrier, tracking, created_at, created_by)
			VALUES ($1, $2, 'shipment', $3, $4, $5, $6) RETURNING id`, o.ID, loc.ID, carrier, tracking, now, actor.String()); err != nil {
			return fmt.Errorf("store: shipment: %w", err)
		}
		items, err := fulfilLines(ctx, tx, actor, fid, picked, domain.LineShip, func(l *OrderLine) int { return want[l.ID] }, now)
		if err != nil {
			return err
		}
		open := 0
		for _, l := range o.Lines {
			open += l.Open()
		}
		msg := fmt.Sprintf("Shipped %s from %s, tracking %s", strings.Join(items, ", "), loc.Code, tracking)
		if carrier != "" {
			msg += " (" + carrier + ")"
		}
		kind := domain.NotifyShipped
		if open > 0 {
			kind = domain.NotifyPartiallyShipped
			msg += fmt.Sprintf("; %d unit(s) still open", open)
		}
		ch.event("shipped", msg+".", "")
		if open > 0 {
			exID, err := openOrderException(ctx, tx, NewException{Kind: domain.KindPartialShipment, LocationID: loc.ID, Ref: o.Number,
				Title:  fmt.Sprintf("Order %s shipped in part: %d unit(s) still open", o.Number, open),
				Detail: fmt.Sprintf("%s. Review the open units: ship them when they are ready, or cancel them and notify the customer.", msg),
				Dedupe: true})
			if err != nil {
				return err
			}
			if exID != 0 {
				ch.event("exception", "Partial shipment raised for review.", exceptionLink(exID))
			}
		}
		ch.notifyCustomer(kind, map[string]string{"items": strings.Join(items, ", "), "tracking": tracking, "store": loc.Name})
		ch.audit = "order.ship"
		ch.details = map[string]any{"fulfilment": fid, "items": items, "tracking": tracking, "location": loc.Code}
		return nil
	})
}
