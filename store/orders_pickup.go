package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"stockline/domain"
)

// ChangePickupLocation moves a pickup order to another store in one
// transaction: the units held at the old pickup store are released there
// and held at the new one (after checking ATP there, under the bopis
// policy); picked units go back to be picked again. Lines held elsewhere
// stay where they are. The customer is told. Without enough stock the
// change is refused with 409 insufficient_stock, whose details list
// "alternatives": stores that could hold every moving line. Errors:
// ENOTFOUND, EINVALID (location), ECONFLICT.
func (db *DB) ChangePickupLocation(ctx context.Context, actor domain.Actor, orderID int64, newCode string) (Order, error) {
	newCode = strings.ToUpper(strings.TrimSpace(newCode))
	to, err := db.LocationByCode(ctx, newCode)
	if err != nil {
		return Order{}, notFoundField(err, "location")
	}
	return db.mutateOrder(ctx, actor, orderID, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		if o.Fulfilment != domain.FulfilPickup || !o.Open() {
			return domain.Errorf(domain.ECONFLICT, "Order %s is %s; its pickup store cannot change.", o.Number, domain.OrderStatusLabel(o.Status))
		}
		if o.PickupLocationID == to.ID {
			return domain.FieldError("location", "Order %s is already picked up at %s.", o.Number, to.Code)
		}
		pol, err := db.CachedPolicy(ctx, domain.Channel(o.Channel))
		if err != nil {
			return err
		}
		if why := pol.WhyNotEligible(to); why != "" {
			return domain.FieldError("location", "%s", why)
		}
		from := o.PickupLocationID
		var moving []*OrderLine
		var req []domain.ReservationLineRequest
		for i := range o.Lines {
			l := &o.Lines[i]
			if l.LocationID == from && l.Held() > 0 {
				moving = append(moving, l)
				req = append(req, domain.ReservationLineRequest{SKU: l.SKU, Qty: l.Held()})
			}
		}
		if err := lockOrderPositions(ctx, tx, lockKeysOf(moving, to.ID)); err != nil {
			return err
		}
		var items []string
		for _, l := range moving {
			n := l.Held()
			if l.Picked > 0 {
				c, err := l.LineQty.Apply(domain.LineUnpick, l.Picked)
				if err != nil {
					return err
				}
				l.LineQty = c.After
			}
			// Release first, so the new hold sees the old store's stock
			// only as what it is: another store's.
			if _, _, err := takeFromReservation(ctx, tx, actor, l.ReservationID, l.ReservationLineNo, n,
				domain.Released, "pickup_location_changed", now); err != nil {
				return err
			}
			items = append(items, fmt.Sprintf("%d × %s", n, l.SKU))
		}
		if len(req) > 0 {
			r, err := db.holdForOrder(ctx, tx, actor, domain.Channel(o.Channel), to.Code, o.Number, req, now)
			if isShort(err) {
				e := domain.AsError(err)
				alts, aerr := db.PickupAlternatives(ctx, o, to.ID)
				if aerr != nil {
					return aerr
				}
				return &domain.Error{Code: domain.CodeInsufficientStock, Field: "location",
					Message: fmt.Sprintf("%s cannot hold %s for this order. %s", to.Code, strings.Join(items, ", "), alternativesText(alts)),
					Details: map[string]any{"lines": e.Details["lines"], "alternatives": alts}}
			} else if err != nil {
				return err
			}
			for _, rl := range r.Lines {
				for _, l := range moving {
					if l.SKU == rl.SKU {
						l.LocationID, l.ReservationID, l.ReservationLineNo = rl.LocationID, r.ID, rl.LineNo
					}
				}
			}
			ch.event("reserved", fmt.Sprintf("Reserved %s at %s (reservation %d).", strings.Join(items, ", "), to.Code, r.ID), reservationLink(o.Number, r.ID))
		}
		for i := range o.Lines {
			l := &o.Lines[i]
			if l.LocationID != 0 && l.LocationID == from && l.Pending > 0 {
				l.LocationID = to.ID // waiting units wait at the new store
			}
			if err := saveLine(ctx, tx, l); err != nil {
				return err
			}
		}
		promised := now.Add(domain.PickupPrepTime)
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET pickup_location_id = $2, promised_at = $3, pickup_until = $4 WHERE id = $1`,
			o.ID, to.ID, promised, promised.Add(pol.PickupWindow)); err != nil {
			return fmt.Errorf("store: change pickup location: %w", err)
		}
		oldCode := o.PickupLocation
		o.PickupLocationID, o.PickupLocation, o.PickupLocationName = to.ID, to.Code, to.Name
		msg := fmt.Sprintf("Pickup store changed from %s to %s.", oldCode, to.Code)
		if len(items) > 0 {
			msg += fmt.Sprintf(" Released %s at %s and held them at %s.", strings.Join(items, ", "), oldCode, to.Code)
		}
		ch.event("pickup_changed", msg, "")
		exID, err := openOrderException(ctx, tx, NewException{Kind: domain.KindPickupLocationChange, LocationID: to.ID, Ref: o.Number,
			Title:  fmt.Sprintf("Order %s now collects at %s (was %s)", o.Number, to.Code, oldCode),
			Detail: fmt.Sprintf("The pickup store of order %s changed from %s to %s by %s. Prepare it at %s before %s.", o.Number, oldCode, to.Code, actor.String(), to.Code, promised.Format("15:04 MST")),
			Dedupe: true})
		if err != nil {
			return err
		}
		if exID != 0 {
			ch.event("exception", fmt.Sprintf("%s told to prepare the order.", to.Code), exceptionLink(exID))
		}
		ch.notifyCustomer(domain.NotifyPickupChanged, map[string]string{"store": to.Name})
		ch.audit = "order.change_pickup"
		ch.details = map[string]any{"from": oldCode, "to": to.Code, "moved": items}
		return nil
	})
}

func alternativesText(alts []StoreATP) string {
	if len(alts) == 0 {
		return "No other pickup store has enough stock."
	}
	var s []string
	for _, a := range alts {
		s = append(s, fmt.Sprintf("%s (%d available)", a.Code, a.ATP))
	}
	return "Stores that can: " + strings.Join(s, ", ") + "."
}

// PickupAlternatives lists the pickup stores (other than the current one
// and exclude) that could hold every unit the order holds at its pickup
// store now; ATP is the smallest reservable quantity across those SKUs.
func (db *DB) PickupAlternatives(ctx context.Context, o *Order, exclude int64) ([]StoreATP, error) {
	need := map[int64]int{}
	for _, l := range o.Lines {
		if l.LocationID == o.PickupLocationID {
			need[l.ProductID] += l.Held() + l.Pending
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	var out []StoreATP
	first := true
	for prod, n := range need {
		alts, err := db.AlternativeStores(ctx, domain.Channel(o.Channel), prod, []int64{o.PickupLocationID, exclude}, 0)
		if err != nil {
			return nil, err
		}
		var keep []StoreATP
		for _, a := range alts {
			if a.ATP < n {
				continue
			}
			if first {
				keep = append(keep, a)
				continue
			}
			for _, k := range out {
				if k.LocationID == a.LocationID {
					k.ATP = min(k.ATP, a.ATP)
					keep = append(keep, k)
				}
			}
		}
		out, first = keep, false
	}
	sortStoreATP(out)
	return out, nil
}
