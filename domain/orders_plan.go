package domain

import "time"

// What happens to an order when it arrives. The store tries to hold the
// whole order under the channel's policy (or commits the reservation the
// order names); when the whole order cannot be held it tries each line on
// its own, so what is there is held while a person decides about the rest.
// PlanOrder then decides, from what was held, everything else.

// HeldLine is one reservation line the engine holds for an order.
type HeldLine struct {
	ReservationID int64
	Line          ReservationLine
}

// OrderPlanInput is what PlanOrder decides from.
type OrderPlanInput struct {
	Order  NewOrder   // normalised and valid
	Policy Policy     // the order's channel policy
	Now    time.Time  // the store clock; the placed time when the order has none
	Held   []HeldLine // every reservation line held for the order, in reservation and line order
	Short  []bool     // per order line: it could not be held (nil: every line was held)
}

// PlannedLine is one order line to write. A request line held at several
// locations becomes one planned line per location.
type PlannedLine struct {
	LineNo  int       // 1, 2, … in the request's line order
	Request int       // index into the request's lines
	SKU     string    // the request line's SKU
	Qty     int       // units
	Held    *HeldLine // where its units are reserved; nil: unreservable, the units wait (pending)
}

// OrderPlan is what an arriving order becomes.
type OrderPlan struct {
	Fulfilment  string // FulfilPickup or FulfilShip
	PlacedAt    time.Time
	PromisedAt  time.Time  // ready for pickup, or leaves the building, by then
	PickupUntil *time.Time // pickup orders: the end of the pickup window
	Lines       []PlannedLine
	// Oversold lists the request lines that could not be reserved. Each
	// waits as a pending line with an oversell exception at the pickup
	// store (or the location that would normally fill it), and the order
	// goes on hold (Hold) until a person reallocates or cancels the line.
	// An order is never dropped for want of stock.
	Oversold []int
	Hold     string // "oversell" when Oversold is not empty
	// PaymentBeforeStock is set when the payment was captured while some
	// line could not be reserved: a payment_before_stock exception asks a
	// person to reallocate or cancel and refund.
	PaymentBeforeStock bool
}

// PlanOrder decides what happens to an order at creation: its fulfilment
// and promise times, which order lines are reserved where, what an
// unreservable line does, and whether a captured payment raises an
// exception. It is pure: the store reserves, then writes what it says.
func PlanOrder(in OrderPlanInput) OrderPlan {
	o := in.Order
	p := OrderPlan{Fulfilment: FulfilmentFor(o.Channel), PlacedAt: o.PlacedAt}
	if p.PlacedAt.IsZero() {
		p.PlacedAt = in.Now
	}
	if p.Fulfilment == FulfilPickup {
		p.PromisedAt = p.PlacedAt.Add(PickupPrepTime)
		until := p.PromisedAt.Add(in.Policy.PickupWindow)
		p.PickupUntil = &until
	} else {
		p.PromisedAt = p.PlacedAt.Add(ShipBy)
	}
	bySKU := map[string][]int{}
	for i, h := range in.Held {
		bySKU[h.Line.SKU] = append(bySKU[h.Line.SKU], i)
	}
	for i, l := range o.Lines {
		if i < len(in.Short) && in.Short[i] {
			p.Lines = append(p.Lines, PlannedLine{LineNo: len(p.Lines) + 1, Request: i, SKU: l.SKU, Qty: l.Qty})
			p.Oversold = append(p.Oversold, i)
			continue
		}
		for _, hi := range bySKU[l.SKU] {
			h := in.Held[hi]
			p.Lines = append(p.Lines, PlannedLine{LineNo: len(p.Lines) + 1, Request: i, SKU: l.SKU, Qty: h.Line.Qty, Held: &h})
		}
	}
	if len(p.Oversold) > 0 {
		p.Hold = "oversell"
		p.PaymentBeforeStock = o.PaymentStatus == PaymentCaptured
	}
	return p
}
