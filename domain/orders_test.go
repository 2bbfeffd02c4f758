package domain

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The whole order transition table: every allowed move and every
// forbidden one, written out here independently of orderMoves.
func TestOrderTransitionTable(t *testing.T) {
	allowed := map[[2]string]bool{}
	allow := func(from string, tos ...string) {
		for _, to := range tos {
			allowed[[2]string{from, to}] = true
		}
	}
	allow("placed", "allocated", "on_hold", "cancelled")
	allow("allocated", "in_fulfilment", "ready_for_pickup", "partially_fulfilled", "completed", "on_hold", "cancelled")
	allow("in_fulfilment", "allocated", "ready_for_pickup", "partially_fulfilled", "completed", "on_hold", "cancelled")
	allow("ready_for_pickup", "allocated", "partially_fulfilled", "completed", "on_hold", "cancelled")
	allow("partially_fulfilled", "completed", "on_hold")
	allow("on_hold", "allocated", "in_fulfilment", "ready_for_pickup", "partially_fulfilled", "completed", "cancelled")
	// completed and cancelled are final: nothing listed.

	if len(OrderStatuses) != 8 {
		t.Fatalf("want the 8 statuses of the issue, have %v", OrderStatuses)
	}
	moves, forbidden := 0, 0
	for _, from := range OrderStatuses {
		for _, to := range OrderStatuses {
			err := CheckOrderMove(from, to)
			want := from == to || allowed[[2]string{from, to}]
			if want != (err == nil) {
				t.Errorf("%s → %s: allowed=%v, got err=%v", from, to, want, err)
			}
			if err != nil {
				forbidden++
				if ErrorCode(err) != ECONFLICT {
					t.Errorf("%s → %s: code %s, want conflict", from, to, ErrorCode(err))
				}
			} else if from != to {
				moves++
			}
		}
	}
	if moves != len(allowed) || moves+forbidden+len(OrderStatuses) != 64 {
		t.Errorf("counted %d moves and %d forbidden, table lists %d", moves, forbidden, len(allowed))
	}
	for _, final := range []string{OrderCompleted, OrderCancelled} {
		for _, to := range OrderStatuses {
			if to != final && CheckOrderMove(final, to) == nil {
				t.Errorf("%s is final but may become %s", final, to)
			}
		}
	}
	if CheckOrderMove("shipped", OrderCompleted) == nil || CheckOrderMove(OrderPlaced, "") == nil {
		t.Error("unknown statuses must be refused")
	}
}

func TestDeriveOrderStatus(t *testing.T) {
	L := func(qty, pending, reserved, picked, shipped, pickedUp, cancelled int) LineQty {
		return LineQty{Qty: qty, Pending: pending, Reserved: reserved, Picked: picked, Shipped: shipped, PickedUp: pickedUp, Cancelled: cancelled}
	}
	tests := []struct {
		name string
		f    OrderFacts
		want string
	}{
		{"new order, nothing allocated", OrderFacts{FulfilPickup, []LineQty{L(2, 2, 0, 0, 0, 0, 0)}, false}, OrderPlaced},
		{"could not reserve", OrderFacts{FulfilPickup, []LineQty{L(2, 2, 0, 0, 0, 0, 0)}, true}, OrderOnHold},
		{"all reserved", OrderFacts{FulfilShip, []LineQty{L(2, 0, 2, 0, 0, 0, 0), L(1, 0, 1, 0, 0, 0, 0)}, false}, OrderAllocated},
		{"some picked", OrderFacts{FulfilPickup, []LineQty{L(2, 0, 1, 1, 0, 0, 0)}, false}, OrderInFulfilment},
		{"pickup all picked", OrderFacts{FulfilPickup, []LineQty{L(2, 0, 0, 2, 0, 0, 0), L(1, 0, 0, 0, 0, 0, 1)}, false}, OrderReadyForPickup},
		{"ship all picked is still in fulfilment", OrderFacts{FulfilShip, []LineQty{L(2, 0, 0, 2, 0, 0, 0)}, false}, OrderInFulfilment},
		{"one shipped one open", OrderFacts{FulfilShip, []LineQty{L(2, 0, 0, 0, 2, 0, 0), L(1, 0, 1, 0, 0, 0, 0)}, false}, OrderPartiallyFulfilled},
		{"part picked up", OrderFacts{FulfilPickup, []LineQty{L(3, 0, 0, 1, 0, 2, 0)}, false}, OrderPartiallyFulfilled},
		{"all picked up", OrderFacts{FulfilPickup, []LineQty{L(3, 0, 0, 0, 0, 3, 0)}, false}, OrderCompleted},
		{"delivered and rest cancelled", OrderFacts{FulfilShip, []LineQty{L(3, 0, 0, 0, 1, 0, 2)}, false}, OrderCompleted},
		{"everything cancelled", OrderFacts{FulfilShip, []LineQty{L(3, 0, 0, 0, 0, 0, 3), L(1, 0, 0, 0, 0, 0, 1)}, false}, OrderCancelled},
		{"hold beats progress", OrderFacts{FulfilPickup, []LineQty{L(2, 1, 0, 1, 0, 0, 0)}, true}, OrderOnHold},
		{"hold does not reopen a completed order", OrderFacts{FulfilPickup, []LineQty{L(1, 0, 0, 0, 0, 1, 0)}, true}, OrderCompleted},
		{"reallocated line does not count", OrderFacts{FulfilPickup, []LineQty{{Qty: 2, Moved: 2}, L(2, 0, 0, 2, 0, 0, 0)}, false}, OrderReadyForPickup},
		{"reallocated then cancelled", OrderFacts{FulfilPickup, []LineQty{{Qty: 2, Moved: 2}, L(2, 0, 0, 0, 0, 0, 2)}, false}, OrderCancelled},
	}
	for _, tt := range tests {
		if got := DeriveOrderStatus(tt.f); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestLineApply(t *testing.T) {
	base := LineQty{Qty: 5, Pending: 1, Reserved: 2, Picked: 2}
	tests := []struct {
		op       string
		n        int
		want     LineQty
		fromHeld int
		err      bool
	}{
		{LineAllocate, 1, LineQty{Qty: 5, Reserved: 3, Picked: 2}, 0, false},
		{LineAllocate, 2, LineQty{}, 0, true},
		{LinePick, 2, LineQty{Qty: 5, Pending: 1, Picked: 4}, 2, false},
		{LinePick, 3, LineQty{}, 0, true},
		{LineUnpick, 2, LineQty{Qty: 5, Pending: 1, Reserved: 4}, 2, false},
		{LineReject, 3, LineQty{Qty: 5, Pending: 4, Picked: 1}, 3, false},
		{LineReject, 5, LineQty{}, 0, true},
		{LineShip, 3, LineQty{Qty: 5, Pending: 1, Reserved: 1, Shipped: 3}, 3, false},
		{LinePickUp, 2, LineQty{Qty: 5, Pending: 1, Reserved: 2, PickedUp: 2}, 2, false},
		{LinePickUp, 3, LineQty{}, 0, true},
		{LineCancel, 4, LineQty{Qty: 5, Picked: 1, Cancelled: 4}, 3, false},
		{LineCancel, 6, LineQty{}, 0, true},
		{LineReturn, 1, LineQty{}, 0, true},
		{LineMove, 1, LineQty{Qty: 5, Reserved: 2, Picked: 2, Moved: 1}, 0, false},
		{LineMove, 0, LineQty{}, 0, true},
		{"teleport", 1, LineQty{}, 0, true},
	}
	for _, tt := range tests {
		c, err := base.Apply(tt.op, tt.n)
		if tt.err {
			if err == nil {
				t.Errorf("%s %d: want an error, got %+v", tt.op, tt.n, c.After)
			}
			continue
		}
		if err != nil || c.After != tt.want || c.FromHeld != tt.fromHeld {
			t.Errorf("%s %d: got %+v held %d (%v), want %+v held %d", tt.op, tt.n, c.After, c.FromHeld, err, tt.want, tt.fromHeld)
		}
	}
	done := LineQty{Qty: 3, Shipped: 1, PickedUp: 2}
	if c, err := done.Apply(LineReturn, 3); err != nil || c.After != (LineQty{Qty: 3, Returned: 3}) || c.After.State() != "returned" {
		t.Errorf("return: %+v %v", c.After, err)
	}
}

// Random walks of line operations, with the store's hold rule (an order
// with units waiting for a decision is on hold), never derive a status
// change the transition table forbids.
func TestDerivedMovesStayInTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	ops := []string{LineAllocate, LinePick, LineUnpick, LineReject, LineShip, LinePickUp, LineCancel, LineReturn, LineMove}
	seen := map[[2]string]bool{}
	for walk := 0; walk < 3000; walk++ {
		f := OrderFacts{Fulfilment: FulfilPickup}
		if walk%2 == 1 {
			f.Fulfilment = FulfilShip
		}
		for range 1 + rng.IntN(3) {
			q := 1 + rng.IntN(4)
			f.Lines = append(f.Lines, LineQty{Qty: q, Pending: q})
		}
		status := DeriveOrderStatus(f)
		if status != OrderPlaced {
			t.Fatalf("a new order is placed, got %s", status)
		}
		for step := 0; step < 12; step++ {
			i := rng.IntN(len(f.Lines))
			op := ops[rng.IntN(len(ops))]
			if f.Fulfilment == FulfilShip && op == LinePickUp || f.Fulfilment == FulfilPickup && op == LineShip {
				continue
			}
			if op == LinePickUp && f.Fulfilment == FulfilPickup && !slices.ContainsFunc(f.Lines, func(l LineQty) bool { return l.Picked > 0 }) {
				continue
			}
			c, err := f.Lines[i].Apply(op, 1+rng.IntN(2))
			if err != nil {
				continue
			}
			f.Lines[i] = c.After
			if op == LineMove { // the moved units become a new reserved line elsewhere
				f.Lines = append(f.Lines, LineQty{Qty: c.FromPending, Reserved: c.FromPending})
			}
			pending := 0
			for _, l := range f.Lines {
				pending += l.Pending
			}
			f.Hold = pending > 0
			next := DeriveOrderStatus(f)
			if err := CheckOrderMove(status, next); err != nil {
				t.Fatalf("walk %d step %d: %s of line %d gave %s → %s, which the table forbids (%+v)", walk, step, op, i, status, next, f.Lines)
			}
			if status != next {
				seen[[2]string{status, next}] = true
			}
			status = next
		}
	}
	if len(seen) < 20 {
		t.Errorf("the walks exercised only %d distinct moves: %v", len(seen), seen)
	}
}

func TestNewOrderValidate(t *testing.T) {
	ok := func() NewOrder {
		return NewOrder{Channel: BOPIS, Customer: Customer{Name: "Ann", Email: "ann@example.com"}, PickupLocation: "S01",
			Lines: []OrderLineInput{{SKU: "FOO-1", Qty: 1}}}
	}
	tests := []struct {
		name  string
		edit  func(o *NewOrder)
		field string
	}{
		{"valid", func(o *NewOrder) {}, ""},
		{"bad channel", func(o *NewOrder) { o.Channel = "fax" }, "channel"},
		{"no customer", func(o *NewOrder) { o.Customer = Customer{} }, "customer"},
		{"bad email", func(o *NewOrder) { o.Customer.Email = "not-an-email" }, "customer.email"},
		{"bopis without store", func(o *NewOrder) { o.PickupLocation = "" }, "pickup_location"},
		{"bopis with reservation needs no store", func(o *NewOrder) { o.PickupLocation = ""; o.ReservationID = 7 }, ""},
		{"ship with store", func(o *NewOrder) { o.Channel = EcommerceShip }, "pickup_location"},
		{"no lines", func(o *NewOrder) { o.Lines = nil }, "lines"},
		{"zero qty", func(o *NewOrder) { o.Lines[0].Qty = 0 }, "lines[0].qty"},
		{"absurd qty", func(o *NewOrder) { o.Lines[0].Qty = 1_000_000 }, "lines[0].qty"},
		{"duplicate sku", func(o *NewOrder) { o.Lines = append(o.Lines, OrderLineInput{SKU: "FOO-1", Qty: 2}) }, "lines[1].sku"},
		{"bad payment", func(o *NewOrder) { o.PaymentStatus = "maybe" }, "payment_status"},
	}
	for _, tt := range tests {
		o := ok()
		tt.edit(&o)
		o.Normalize()
		got := ""
		if e := AsError(o.Validate()); e != nil {
			got = e.Field
		}
		if got != tt.field {
			t.Errorf("%s: field %q, want %q", tt.name, got, tt.field)
		}
	}
	o := NewOrder{Customer: Customer{Email: " Ann@Example.COM ", Phone: "+1 (555) 010-2000"}}
	o.Normalize()
	if o.Customer.Email != "ann@example.com" || o.Customer.Phone != "+15550102000" || o.PaymentStatus != PaymentPending || o.Source != "api" {
		t.Errorf("normalize: %+v", o)
	}
}

func TestRejectEffectsAndTemplates(t *testing.T) {
	for _, r := range RejectReasons {
		b, reason, err := RejectEffect(r)
		if err != nil || b == Reserved || b == OnHand || reason == "" {
			t.Errorf("%s: %s %s %v — a reject must move units into a bucket that keeps them out of ATP", r, b, reason, err)
		}
		// ATP must not rise when reserved units move into that bucket.
		before := Position{OnHand: 10, Reserved: 3}
		after := before.Apply(Reserved, -2).Apply(b, 2)
		if ATP(after, 0) != ATP(before, 0) {
			t.Errorf("%s: ATP went from %d to %d", r, ATP(before, 0), ATP(after, 0))
		}
	}
	if _, _, err := RejectEffect("lost_interest"); ErrorCode(err) != EINVALID {
		t.Errorf("unknown reason: %v", err)
	}
	got := RenderNotification("Hi {customer}, order {order} is ready at {store}. {unknown}", map[string]string{"customer": "Ann", "order": "SL-1", "store": "S01"})
	if got != "Hi Ann, order SL-1 is ready at S01. {unknown}" {
		t.Errorf("render: %q", got)
	}
	if (NotificationTemplate{Kind: "cancelled", Subject: "x", Body: "y"}).Validate() != nil ||
		(NotificationTemplate{Kind: "gossip", Subject: "x", Body: "y"}).Validate() == nil ||
		(NotificationTemplate{Kind: "cancelled", Subject: " ", Body: "y"}).Validate() == nil {
		t.Error("template validation")
	}
}

func TestDueText(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(12*time.Minute + 30*time.Second), "due in 12 min"},
		{now.Add(-38 * time.Minute), "38 min late"},
		{now.Add(3*time.Hour + 5*time.Minute), "due in 3 h 5 min"},
		{now.Add(-72 * time.Hour), "3 days late"},
	} {
		if got := DueText(tt.at, now); got != tt.want {
			t.Errorf("DueText(%v) = %q, want %q", tt.at.Sub(now), got, tt.want)
		}
	}
}

func TestSuggestSplit(t *testing.T) {
	tests := []struct {
		atp  []int
		need int
		want []int
	}{
		{nil, 3, nil},
		{[]int{5, 1}, 3, nil}, // one store can take it: reallocate, not split
		{[]int{2, 1}, 3, []int{2, 1}},
		{[]int{2, 2, 2}, 5, []int{2, 2, 1}},
		{[]int{2, 0}, 3, nil}, // together they cannot
		{[]int{1, 1, 1, 1}, 2, []int{1, 1}},
	}
	for _, tt := range tests {
		if got := SuggestSplit(tt.atp, tt.need); !slices.Equal(got, tt.want) {
			t.Errorf("SuggestSplit(%v, %d) = %v, want %v", tt.atp, tt.need, got, tt.want)
		}
	}
}
