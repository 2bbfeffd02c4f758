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
// connector's inbound event).
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
	placed := in.PlacedAt
	if placed.IsZero() {
		placed = now
	}
	number, err := nextOrderNumber(ctx, tx)
	if err != nil {
		return OrderCreated{}, err
	}

	// An existing reservation is committed first: it decides the pickup
	// store of a bopis order that did not name one.
	var committed *domain.Reservation
	if in.ReservationID > 0 {
		r, err := db.commitForOrder(ctx, tx, actor, in.ReservationID, number, now)
		if err != nil {
			if e := domain.AsError(err); e != nil && e.Code == domain.ENOTFOUND {
				return OrderCreated{}, &domain.Error{Code: domain.ENOTFOUND, Field: "reservation_id", Message: e.Message}
			}
			return OrderCreated{}, err
		}
		if err := reservationFits(r, in); err != nil {
			return OrderCreated{}, err
		}
		if in.Channel == domain.BOPIS && in.PickupLocation == "" {
			in.PickupLocation = r.Lines[0].Location
		}
		committed = &r
	}
	var pickup *domain.Location
	if in.PickupLocation != "" {
		l, err := locationByCodeIn(ctx, tx, in.PickupLocation)
		if err != nil {
			return OrderCreated{}, notFoundField(err, "pickup_location")
		}
		if why := pol.WhyNotEligible(l); why != "" {
			return OrderCreated{}, &domain.Error{Code: domain.CodeLocationNotEligible, Field: "pickup_location", Message: why}
		}
		pickup = &l
	}
	fulfil := domain.FulfilmentFor(in.Channel)
	var promised, until any
	if fulfil == domain.FulfilPickup {
		p := placed.Add(domain.PickupPrepTime)
		promised, until = p, p.Add(pol.PickupWindow)
	} else {
		promised = placed.Add(domain.ShipBy)
	}
	var pickupID any
	if pickup != nil {
		pickupID = pickup.ID
	}
	var orderID int64
	err = tx.GetContext(ctx, &orderID, `INSERT INTO orders (number, channel, fulfilment, source, external_ref, status, customer_name, customer_email,
			customer_phone, payment_status, pickup_location_id, promised_at, pickup_until, placed_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'placed', $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id`,
		number, string(in.Channel), fulfil, in.Source, in.ExternalRef, in.Customer.Name, in.Customer.Email, in.Customer.Phone,
		in.PaymentStatus, pickupID, promised, until, placed, now)
	if err != nil {
		if isUniqueViolation(err) {
			return OrderCreated{}, &domain.Error{Code: domain.CodeOrderExists, Field: "external_ref",
				Message: fmt.Sprintf("An order from %s with external_ref %q already exists.", in.Source, in.ExternalRef)}
		}
		return OrderCreated{}, fmt.Errorf("store: insert order: %w", err)
	}
	ch := &orderChange{}
	src := in.Source
	desc := fmt.Sprintf("Order %s placed via %s", number, src)
	if in.ExternalRef != "" {
		desc += fmt.Sprintf(" (external ref %s)", in.ExternalRef)
	}
	desc += fmt.Sprintf(": %d line(s), %s", len(in.Lines), in.Channel)
	if pickup != nil {
		desc += ", pickup at " + pickup.Code
	}
	desc += fmt.Sprintf(", payment %s.", in.PaymentStatus)
	ch.event("created", desc, "")

	// Allocate: the committed reservation, or holds under the policy. When
	// the whole order cannot be held, each line is tried on its own, so
	// what is there is held while a person decides about the rest.
	var rs []domain.Reservation
	short := map[int]bool{}
	loc := ""
	if pickup != nil {
		loc = pickup.Code
	}
	switch {
	case committed != nil:
		rs = []domain.Reservation{*committed}
	default:
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
					return OrderCreated{}, err
				}
				rs = append(rs, r)
			}
		default:
			return OrderCreated{}, err
		}
	}
	// Lines in the order the request listed them; a line sourced from
	// several locations becomes one line per location.
	type held struct {
		r  domain.Reservation
		rl domain.ReservationLine
	}
	bySKU := map[string][]held{}
	for _, r := range rs {
		for _, rl := range r.Lines {
			bySKU[rl.SKU] = append(bySKU[rl.SKU], held{r, rl})
		}
	}
	lineNo := 0
	for i, l := range in.Lines {
		if !short[i] {
			for _, h := range bySKU[l.SKU] {
				lineNo++
				if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, product_id, location_id, reservation_id, reservation_line_no, qty, reserved)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, orderID, lineNo, h.rl.ProductID, h.rl.LocationID, h.r.ID, h.rl.LineNo, h.rl.Qty); err != nil {
					return OrderCreated{}, fmt.Errorf("store: insert order line: %w", err)
				}
				ch.event("reserved", fmt.Sprintf("Reserved %d × %s at %s (reservation %d).", h.rl.Qty, h.rl.SKU, h.rl.Location, h.r.ID), reservationLink(number, h.r.ID))
			}
			continue
		}
		lineNo++
		exLoc := pickup
		if exLoc == nil {
			exLoc, err = likelySource(ctx, tx, pol, products[i].ID)
			if err != nil {
				return OrderCreated{}, err
			}
		}
		var locID any
		if pickup != nil {
			locID = pickup.ID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, product_id, location_id, qty, pending)
			VALUES ($1, $2, $3, $4, $5, $5)`, orderID, lineNo, products[i].ID, locID, l.Qty); err != nil {
			return OrderCreated{}, fmt.Errorf("store: insert order line: %w", err)
		}
		where, whereID := "the network", int64(0)
		if exLoc != nil {
			where, whereID = exLoc.Code, exLoc.ID
		}
		exID, err := openOrderException(ctx, tx, NewException{
			Kind: "oversell", Severity: "high", LocationID: whereID, ProductID: products[i].ID, Ref: number,
			Title:  fmt.Sprintf("Order %s: %d × %s could not be reserved at %s", number, l.Qty, l.SKU, where),
			Detail: fmt.Sprintf("The %s order arrived with too little stock to hold %d × %s (%s) at %s. It is on hold until someone reallocates or cancels the line.", in.Channel, l.Qty, l.SKU, products[i].Name, where),
			DueIn:  time.Hour,
		})
		if err != nil {
			return OrderCreated{}, err
		}
		ch.event("exception", fmt.Sprintf("Oversell: %d × %s could not be reserved at %s; order held for review.", l.Qty, l.SKU, where), exceptionLink(exID))
		ch.hold = "oversell"
	}
	if len(short) > 0 && in.PaymentStatus == domain.PaymentCaptured {
		exID, err := openOrderException(ctx, tx, NewException{
			Kind: "payment_before_stock", Severity: "high", Ref: number, LocationID: idOf(pickup),
			Title:  fmt.Sprintf("Order %s: payment captured before stock was confirmed", number),
			Detail: fmt.Sprintf("%s captured payment for order %s, but %d line(s) could not be reserved. Reallocate or cancel and refund.", src, number, len(short)),
			DueIn:  time.Hour,
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
	if err := finishOrder(ctx, tx, actor, src, &o, domain.OrderPlaced, ch, now); err != nil {
		return OrderCreated{}, err
	}
	return OrderCreated{Order: o}, nil
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

// openOrderException opens an exception inside tx and returns its id.
func openOrderException(ctx context.Context, tx *Tx, e NewException) (int64, error) {
	if err := openException(ctx, tx, e); err != nil {
		return 0, err
	}
	var id int64
	err := tx.GetContext(ctx, &id, `SELECT id FROM exceptions WHERE kind = $1 AND ref = $2 ORDER BY id DESC LIMIT 1`, e.Kind, e.Ref)
	return id, err
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

// CancelRequest cancels units of an order: by SKU (API), by line (pages),
// or, with neither, every open unit.
type CancelRequest struct {
	Lines   []domain.OrderLineInput // by SKU; a SKU's units are taken from its lines in order, waiting units first
	LineID  int64                   // one line (pages)
	LineQty int                     // units of LineID; 0 means all its open units
	Reason  string
	// ReasonCode is the counted reason; empty means customer_request
	// without a Reason and other with one (domain.ResolveCancelReason).
	ReasonCode domain.CancelReason
}

// CancelOrder cancels units of an order in one transaction: held units go
// back to ATP through their reservations (ledger reason release), the
// lines record them as cancelled, and the customer is notified (and told
// of a refund when the payment was captured). Errors: ENOTFOUND, EINVALID
// (a SKU not on the order, more units than are open), ECONFLICT (nothing
// open to cancel).
func (db *DB) CancelOrder(ctx context.Context, actor domain.Actor, id int64, req CancelRequest) (Order, error) {
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		reason = "customer request"
	}
	if len(reason) > 500 {
		return Order{}, domain.FieldError("reason", "Keep the reason under 500 characters.")
	}
	return db.mutateOrder(ctx, actor, id, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
		return cancelUnits(ctx, tx, actor, o, ch, req, reason, now)
	})
}

// CancelOrderTx is CancelOrder inside the caller's transaction, for a
// connector applying a platform's cancellation with its inbound event.
// The order is found by its source and external reference; cancelling an
// order with nothing open is a no-op.
func (db *DB) CancelOrderTx(ctx context.Context, tx *Tx, actor domain.Actor, source, externalRef, reason string, code ...domain.CancelReason) (Order, error) {
	var id int64
	if err := tx.GetContext(ctx, &id, `SELECT id FROM orders WHERE source = $1 AND external_ref = $2`, source, externalRef); err != nil {
		return Order{}, notFound(err, "There is no order from %s with external ref %s.", source, externalRef)
	}
	o, err := loadOrder(ctx, tx, `o.id = $1`, id, true)
	if err != nil || !o.Open() {
		return o, err
	}
	if reason == "" {
		reason = "cancelled at " + source
	}
	before, ch, now := o.Status, &orderChange{}, db.stamp()
	req := CancelRequest{ReasonCode: domain.CancelOther}
	if len(code) > 0 && code[0] != "" {
		req.ReasonCode = code[0]
	}
	if err := cancelUnits(ctx, tx, actor, &o, ch, req, reason, now); err != nil {
		return o, err
	}
	if err := finishOrder(ctx, tx, actor, source, &o, before, ch, now); err != nil {
		return o, err
	}
	return o, nil
}

func cancelUnits(ctx context.Context, tx *Tx, actor domain.Actor, o *Order, ch *orderChange, req CancelRequest, reason string, now time.Time) error {
	take := map[int64]int{} // line id → units
	switch {
	case req.LineID != 0:
		l := o.Line(req.LineID)
		if l == nil {
			return domain.Errorf(domain.ENOTFOUND, "Order %s has no line %d.", o.Number, req.LineID)
		}
		n := req.LineQty
		if n == 0 {
			n = l.Open()
		}
		if n <= 0 || n > l.Open() {
			return domain.FieldError("qty", "Line %s has %d open unit(s); cancel between 1 and %d.", l.SKU, l.Open(), l.Open())
		}
		take[l.ID] = n
	case len(req.Lines) > 0:
		for i, want := range req.Lines {
			if want.Qty <= 0 {
				return domain.FieldError(fmt.Sprintf("lines[%d].qty", i), "Line %d: qty must be at least 1.", i+1)
			}
			need, open := want.Qty, 0
			// waiting units first, then held ones, across the SKU's lines
			for pass := 0; pass < 2; pass++ {
				for j := range o.Lines {
					l := &o.Lines[j]
					if !strings.EqualFold(l.SKU, strings.TrimSpace(want.SKU)) {
						continue
					}
					avail := l.Pending - take[l.ID]
					if pass == 1 {
						avail = l.Open() - take[l.ID]
					} else {
						open += l.Open()
					}
					n := min(need, max(0, avail))
					take[l.ID] += n
					need -= n
				}
			}
			if open == 0 && need == want.Qty {
				if !slices.ContainsFunc(o.Lines, func(l OrderLine) bool { return strings.EqualFold(l.SKU, strings.TrimSpace(want.SKU)) }) {
					return domain.FieldError(fmt.Sprintf("lines[%d].sku", i), "Order %s has no line for SKU %s.", o.Number, want.SKU)
				}
			}
			if need > 0 {
				return domain.FieldError(fmt.Sprintf("lines[%d].qty", i), "Order %s has only %d open unit(s) of %s; cannot cancel %d.", o.Number, open, want.SKU, want.Qty)
			}
		}
	default:
		for _, l := range o.Lines {
			if l.Open() > 0 {
				take[l.ID] = l.Open()
			}
		}
	}
	if len(take) == 0 {
		return domain.Errorf(domain.ECONFLICT, "Order %s has nothing open to cancel: it is %s.", o.Number, domain.OrderStatusLabel(o.Status))
	}
	var locked []*OrderLine
	for i := range o.Lines {
		if take[o.Lines[i].ID] > 0 {
			locked = append(locked, &o.Lines[i])
		}
	}
	if err := lockOrderPositions(ctx, tx, lockKeysOf(locked)); err != nil {
		return err
	}
	var items []string
	units, released := 0, 0
	for _, l := range locked {
		n := take[l.ID]
		c, err := l.LineQty.Apply(domain.LineCancel, n)
		if err != nil {
			return err
		}
		l.LineQty = c.After
		if err := endHeld(ctx, tx, actor, l, c.FromHeld, domain.Released, "order cancelled: "+reason, now); err != nil {
			return err
		}
		if err := saveLine(ctx, tx, l); err != nil {
			return err
		}
		items = append(items, fmt.Sprintf("%d × %s", n, l.SKU))
		units += n
		released += c.FromHeld
	}
	if req.ReasonCode == "" {
		req.ReasonCode = domain.UncollectedReason(*o, now)
	}
	code, err := domain.ResolveCancelReason(string(req.ReasonCode), req.Reason)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Cancelled %s (%s; reason code %s).", strings.Join(items, ", "), reason, code)
	if released > 0 {
		msg += fmt.Sprintf(" %d held unit(s) released back to stock.", released)
	}
	ch.event("cancelled", msg, "")
	vars := map[string]string{"items": strings.Join(items, ", "), "reason": reason}
	ch.notifyCustomer(domain.NotifyCancelled, vars)
	if o.PaymentStatus == domain.PaymentCaptured {
		ch.notifyCustomer(domain.NotifyRefundIssued, vars)
	}
	ch.audit = "order.cancel"
	ch.details = map[string]any{"cancelled": items, "reason": reason, "reason_code": string(code)}
	return nil
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
// Errors: ENOTFOUND, EINVALID (reason, qty), ECONFLICT.
func (db *DB) RejectLine(ctx context.Context, actor domain.Actor, orderID, lineID int64, reason string, qty int, note string) (Order, error) {
	bucket, ledgerReason, err := domain.RejectEffect(reason)
	if err != nil {
		return Order{}, err
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
		effect := fmt.Sprintf("%d unit(s) moved from reserved to %s pending a count", qty, bucket)
		exID, err := openOrderException(ctx, tx, NewException{
			Kind: "item_not_found", Severity: "high", LocationID: loc, ProductID: l.ProductID, Ref: o.Number,
			Title:  fmt.Sprintf("Order %s: %d × %s %s at %s", o.Number, qty, l.SKU, rejectVerb(reason), l.Location),
			Detail: fmt.Sprintf("%s. Reallocate the line to another store, split it, or cancel it and notify the customer.%s", effect, noteSuffix(note)),
			DueIn:  30 * time.Minute,
		})
		if err != nil {
			return err
		}
		ch.event("rejected", fmt.Sprintf("%d × %s %s at %s; %s.%s", qty, l.SKU, rejectVerb(reason), l.Location, effect, noteSuffix(note)), exceptionLink(exID))
		ch.hold = "item_not_found"
		ch.notifyCustomer(domain.NotifyDelayed, map[string]string{"items": fmt.Sprintf("%d × %s", qty, l.SKU), "reason": "an item could not be picked"})
		ch.audit = "order.reject_line"
		ch.details = map[string]any{"sku": l.SKU, "qty": qty, "location": l.Location, "reason": reason, "reason_code": string(domain.RejectCancelReason(reason)), "exception": exID}
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
	if len(allocs) == 0 {
		return Order{}, domain.FieldError("location", "Choose where the units should come from.")
	}
	return db.mutateOrder(ctx, actor, orderID, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
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
		ch.notifyCustomer(kind, map[string]string{"items": strings.Join(items, ", "), "tracking": tracking, "store": loc.Name})
		ch.audit = "order.ship"
		ch.details = map[string]any{"fulfilment": fid, "items": items, "tracking": tracking, "location": loc.Code}
		return nil
	})
}

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
