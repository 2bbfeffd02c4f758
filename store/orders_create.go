package store

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
)

// OrderCreated is what CreateOrder did.
type OrderCreated struct {
	Order    Order
	Existing bool // an order with the same source and external_ref already existed; nothing was written
}

// CreateOrder creates an order from the API or a connector in one
// transaction: the order and its lines, its reservations (an existing one
// committed to it, or new holds under the channel's policy), and, for
// anything that could not be held, an on_hold status with an oversell
// exception per line naming the location and SKU. A captured payment on an
// order not fully held raises payment_before_stock. An order is never
// dropped for want of stock. An order whose source and external_ref are
// already known comes back with Existing set, unchanged.
//
// Errors: EINVALID (fields), ENOTFOUND (sku, location, reservation),
// 400 location_not_eligible, 409 reservation_expired, reservation_closed,
// order_ref_conflict or reservation_mismatch.
func (db *DB) CreateOrder(ctx context.Context, actor domain.Actor, o domain.NewOrder) (OrderCreated, error) {
	var res OrderCreated
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		res, err = db.CreateOrderTx(ctx, tx, actor, o)
		return err
	})
	return res, err
}

// CreateOrderTx is CreateOrder inside the caller's transaction, for
// callers that write other rows with it (the API's idempotency key, a
// connector's inbound event). It looks up what the order names, reserves
// (holdOrder), lets domain.PlanOrder decide the rest, and writes the plan.
func (db *DB) CreateOrderTx(ctx context.Context, tx *Tx, actor domain.Actor, in domain.NewOrder) (OrderCreated, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return OrderCreated{}, err
	}
	if in.ExternalRef != "" {
		var id int64
		err := tx.GetContext(ctx, &id, `SELECT id FROM orders WHERE source = $1 AND external_ref = $2`, in.Source, in.ExternalRef)
		if err == nil {
			o, err := loadOrder(ctx, tx, `o.id = $1`, id, false)
			return OrderCreated{Order: o, Existing: true}, err
		}
	}
	pol, err := db.CachedPolicy(ctx, in.Channel)
	if err != nil {
		return OrderCreated{}, err
	}
	products := make([]domain.Product, len(in.Lines))
	for i, l := range in.Lines {
		p, err := productBySKUIn(ctx, tx, l.SKU)
		if err != nil {
			if e := domain.AsError(err); e != nil && e.Code == domain.ENOTFOUND {
				return OrderCreated{}, &domain.Error{Code: domain.ENOTFOUND, Field: fmt.Sprintf("lines[%d].sku", i), Message: e.Message}
			}
			return OrderCreated{}, err
		}
		products[i] = p
		in.Lines[i].SKU = p.SKU
	}
	now := db.stamp()
	number, err := nextOrderNumber(ctx, tx)
	if err != nil {
		return OrderCreated{}, err
	}
	committed, pickup, err := db.orderReservationAndPickup(ctx, tx, actor, &in, pol, number, now)
	if err != nil {
		return OrderCreated{}, err
	}
	held, short, err := db.holdOrder(ctx, tx, actor, in, committed, pickup, number, now)
	if err != nil {
		return OrderCreated{}, err
	}
	plan := domain.PlanOrder(domain.OrderPlanInput{Order: in, Policy: pol, Now: now, Held: held, Short: short})
	orderID, err := insertOrder(ctx, tx, in, plan, pickup, number, now)
	if err != nil {
		return OrderCreated{}, err
	}
	ch := &orderChange{}
	ch.event("created", createdText(in, number, pickup), "")
	if err := writeOrderLines(ctx, tx, in, plan, pol, products, pickup, orderID, number, ch); err != nil {
		return OrderCreated{}, err
	}
	if plan.PaymentBeforeStock {
		exID, err := openOrderException(ctx, tx, NewException{
			Kind: "payment_before_stock", Severity: "high", Ref: number, LocationID: idOf(pickup), OrderID: orderID,
			Title:  fmt.Sprintf("Order %s: payment captured before stock was confirmed", number),
			Detail: fmt.Sprintf("%s captured payment for order %s, but %d line(s) could not be reserved. Reallocate or cancel and refund.", in.Source, number, len(plan.Oversold)),
		})
		if err != nil {
			return OrderCreated{}, err
		}
		ch.event("exception", "Payment was captured before stock was confirmed.", exceptionLink(exID))
	}
	o, err := loadOrder(ctx, tx, `o.id = $1`, orderID, true)
	if err != nil {
		return OrderCreated{}, err
	}
	ch.audit = "order.create"
	if err := finishOrder(ctx, tx, actor, in.Source, &o, domain.OrderPlaced, ch, now); err != nil {
		return OrderCreated{}, err
	}
	return OrderCreated{Order: o}, nil
}

// orderReservationAndPickup commits the reservation the order names, if
// any (it decides the pickup store of a bopis order that did not name
// one), and looks up the pickup location.
func (db *DB) orderReservationAndPickup(ctx context.Context, tx *Tx, actor domain.Actor, in *domain.NewOrder, pol domain.Policy,
	number string, now time.Time) (*domain.Reservation, *domain.Location, error) {
	var committed *domain.Reservation
	if in.ReservationID > 0 {
		r, err := db.commitForOrder(ctx, tx, actor, in.ReservationID, number, now)
		if err != nil {
			if e := domain.AsError(err); e != nil && e.Code == domain.ENOTFOUND {
				return nil, nil, &domain.Error{Code: domain.ENOTFOUND, Field: "reservation_id", Message: e.Message}
			}
			return nil, nil, err
		}
		if err := reservationFits(r, *in); err != nil {
			return nil, nil, err
		}
		if in.Channel == domain.BOPIS && in.PickupLocation == "" {
			in.PickupLocation = r.Lines[0].Location
		}
		committed = &r
	}
	if in.PickupLocation == "" {
		return committed, nil, nil
	}
	l, err := locationByCodeIn(ctx, tx, in.PickupLocation)
	if err != nil {
		return nil, nil, notFoundField(err, "pickup_location")
	}
	if why := pol.WhyNotEligible(l); why != "" {
		return nil, nil, &domain.Error{Code: domain.CodeLocationNotEligible, Field: "pickup_location", Message: why}
	}
	return committed, &l, nil
}

// holdOrder reserves the order: the committed reservation, or holds under
// the policy. When the whole order cannot be held, each line is tried on
// its own, so what is there is held while a person decides about the
// rest; short marks the lines that could not be.
func (db *DB) holdOrder(ctx context.Context, tx *Tx, actor domain.Actor, in domain.NewOrder, committed *domain.Reservation,
	pickup *domain.Location, number string, now time.Time) ([]domain.HeldLine, []bool, error) {
	var rs []domain.Reservation
	short := make([]bool, len(in.Lines))
	loc := ""
	if pickup != nil {
		loc = pickup.Code
	}
	if committed != nil {
		rs = []domain.Reservation{*committed}
	} else {
		reqLines := make([]domain.ReservationLineRequest, len(in.Lines))
		for i, l := range in.Lines {
			reqLines[i] = domain.ReservationLineRequest{SKU: l.SKU, Qty: l.Qty}
		}
		r, err := db.holdForOrder(ctx, tx, actor, in.Channel, loc, number, reqLines, now)
		switch {
		case err == nil:
			rs = append(rs, r)
		case isShort(err):
			for i, l := range reqLines {
				r, err := db.holdForOrder(ctx, tx, actor, in.Channel, loc, number, []domain.ReservationLineRequest{l}, now)
				if isShort(err) {
					short[i] = true
					continue
				} else if err != nil {
					return nil, nil, err
				}
				rs = append(rs, r)
			}
		default:
			return nil, nil, err
		}
	}
	var held []domain.HeldLine
	for _, r := range rs {
		for _, rl := range r.Lines {
			held = append(held, domain.HeldLine{ReservationID: r.ID, Line: rl})
		}
	}
	return held, short, nil
}

// insertOrder writes the order row the plan describes.
func insertOrder(ctx context.Context, tx *Tx, in domain.NewOrder, plan domain.OrderPlan, pickup *domain.Location, number string, now time.Time) (int64, error) {
	var pickupID, until any
	if pickup != nil {
		pickupID = pickup.ID
	}
	if plan.PickupUntil != nil {
		until = *plan.PickupUntil
	}
	var orderID int64
	err := tx.GetContext(ctx, &orderID, `INSERT INTO orders (number, channel, fulfilment, source, external_ref, status, customer_name, customer_email,
			customer_phone, payment_status, pickup_location_id, promised_at, pickup_until, placed_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'placed', $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id`,
		number, string(in.Channel), plan.Fulfilment, in.Source, in.ExternalRef, in.Customer.Name, in.Customer.Email, in.Customer.Phone,
		in.PaymentStatus, pickupID, plan.PromisedAt, until, plan.PlacedAt, now)
	if err != nil {
		if isUniqueViolation(err) {
			return 0, &domain.Error{Code: domain.CodeOrderExists, Field: "external_ref",
				Message: fmt.Sprintf("An order from %s with external_ref %q already exists.", in.Source, in.ExternalRef)}
		}
		return 0, fmt.Errorf("store: insert order: %w", err)
	}
	return orderID, nil
}

func createdText(in domain.NewOrder, number string, pickup *domain.Location) string {
	desc := fmt.Sprintf("Order %s placed via %s", number, in.Source)
	if in.ExternalRef != "" {
		desc += fmt.Sprintf(" (external ref %s)", in.ExternalRef)
	}
	desc += fmt.Sprintf(": %d line(s), %s", len(in.Lines), in.Channel)
	if pickup != nil {
		desc += ", pickup at " + pickup.Code
	}
	return desc + fmt.Sprintf(", payment %s.", in.PaymentStatus)
}

// writeOrderLines writes the plan's lines: a held line with its
// reservation, an unreservable one pending with an oversell exception at
// the pickup store or the location that would normally fill it.
func writeOrderLines(ctx context.Context, tx *Tx, in domain.NewOrder, plan domain.OrderPlan, pol domain.Policy, products []domain.Product,
	pickup *domain.Location, orderID int64, number string, ch *orderChange) error {
	for _, pl := range plan.Lines {
		if h := pl.Held; h != nil {
			rl := h.Line
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, product_id, location_id, reservation_id, reservation_line_no, qty, reserved)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, orderID, pl.LineNo, rl.ProductID, rl.LocationID, h.ReservationID, rl.LineNo, rl.Qty); err != nil {
				return fmt.Errorf("store: insert order line: %w", err)
			}
			ch.event("reserved", fmt.Sprintf("Reserved %d × %s at %s (reservation %d).", rl.Qty, rl.SKU, rl.Location, h.ReservationID), reservationLink(number, h.ReservationID))
			continue
		}
		prod := products[pl.Request]
		exLoc := pickup
		if exLoc == nil {
			var err error
			if exLoc, err = likelySource(ctx, tx, pol, prod.ID); err != nil {
				return err
			}
		}
		var locID any
		if pickup != nil {
			locID = pickup.ID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, product_id, location_id, qty, pending)
			VALUES ($1, $2, $3, $4, $5, $5)`, orderID, pl.LineNo, prod.ID, locID, pl.Qty); err != nil {
			return fmt.Errorf("store: insert order line: %w", err)
		}
		where, whereID := "the network", int64(0)
		if exLoc != nil {
			where, whereID = exLoc.Code, exLoc.ID
		}
		exID, err := openOrderException(ctx, tx, NewException{
			Kind: "oversell", Severity: "high", LocationID: whereID, ProductID: prod.ID, Ref: number, OrderID: orderID,
			Title:  fmt.Sprintf("Order %s: %d × %s could not be reserved at %s", number, pl.Qty, pl.SKU, where),
			Detail: fmt.Sprintf("The %s order arrived with too little stock to hold %d × %s (%s) at %s. It is on hold until someone reallocates or cancels the line.", in.Channel, pl.Qty, pl.SKU, prod.Name, where),
		})
		if err != nil {
			return err
		}
		ch.event("exception", fmt.Sprintf("Oversell: %d × %s could not be reserved at %s; order held for review.", pl.Qty, pl.SKU, where), exceptionLink(exID))
	}
	ch.hold = plan.Hold
	return nil
}

func idOf(l *domain.Location) int64 {
	if l == nil {
		return 0
	}
	return l.ID
}

func isShort(err error) bool {
	e := domain.AsError(err)
	return e != nil && e.Code == domain.CodeInsufficientStock
}

// reservationFits checks an existing reservation matches the order: same
// channel, the same SKUs and quantities, and for bopis every line at the
// pickup store.
func reservationFits(r domain.Reservation, in domain.NewOrder) error {
	mismatch := func(format string, args ...any) error {
		return &domain.Error{Code: domain.CodeReservationMismatch, Field: "reservation_id", Message: fmt.Sprintf(format, args...)}
	}
	if r.Channel != in.Channel {
		return mismatch("Reservation %d is for %s, not %s.", r.ID, r.Channel, in.Channel)
	}
	held := map[string]int{}
	for _, l := range r.Lines {
		held[l.SKU] += l.Qty
		if in.Channel == domain.BOPIS && in.PickupLocation != "" && l.Location != in.PickupLocation {
			return mismatch("Reservation %d holds %s at %s, not at the pickup location %s.", r.ID, l.SKU, l.Location, in.PickupLocation)
		}
	}
	for _, l := range in.Lines {
		if held[l.SKU] != l.Qty {
			return mismatch("Reservation %d holds %d × %s; the order asks for %d.", r.ID, held[l.SKU], l.SKU, l.Qty)
		}
		delete(held, l.SKU)
	}
	for sku := range held {
		return mismatch("Reservation %d also holds %s, which the order does not list.", r.ID, sku)
	}
	return nil
}

// likelySource is the location a ship order's line would normally come
// from, named on its oversell exception: the eligible location with the
// most reservable stock, or the first eligible one.
func likelySource(ctx context.Context, q queryer, pol domain.Policy, productID int64) (*domain.Location, error) {
	alts, err := alternativeStores(ctx, q, pol, productID, nil, 1)
	if err != nil {
		return nil, err
	}
	locs, err := listLocationsIn(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, l := range locs {
		if len(alts) > 0 && l.ID == alts[0].LocationID || len(alts) == 0 && pol.Eligible(l) {
			return &l, nil
		}
	}
	return nil, nil
}

func nextOrderNumber(ctx context.Context, tx *Tx) (string, error) {
	var n int64
	if err := tx.GetContext(ctx, &n, `SELECT nextval('order_number_seq')`); err != nil {
		return "", fmt.Errorf("store: order number: %w", err)
	}
	return fmt.Sprintf("SL-%d", n), nil
}
