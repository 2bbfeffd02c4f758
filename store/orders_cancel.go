package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"stockline/domain"
)

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
	return db.cancelOrder(ctx, actor, id, req, nil)
}

// CancelForException is CancelOrder done as an exception's action (a line
// cancelled and the customer notified): the cancellation and the
// exception's resolution record commit together.
func (db *DB) CancelForException(ctx context.Context, actor domain.Actor, rec ExceptionRecord, id int64, req CancelRequest) (Order, error) {
	return db.cancelOrder(ctx, actor, id, req, &rec)
}

func (db *DB) cancelOrder(ctx context.Context, actor domain.Actor, id int64, req CancelRequest, rec *ExceptionRecord) (Order, error) {
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		reason = "customer request"
	}
	if len(reason) > 500 {
		return Order{}, domain.FieldError("reason", "Keep the reason under 500 characters.")
	}
	return db.mutateOrderRecording(ctx, actor, id, rec, func(tx *Tx, o *Order, ch *orderChange, now time.Time) error {
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
	if req.ReasonCode == "" {
		req.ReasonCode = domain.UncollectedReason(*o, now)
	}
	code, err := domain.ResolveCancelReason(string(req.ReasonCode), req.Reason)
	if err != nil {
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
		if err := recordCancellation(ctx, tx, actor, o, l, n, code, now); err != nil {
			return err
		}
		items = append(items, fmt.Sprintf("%d × %s", n, l.SKU))
		units += n
		released += c.FromHeld
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
