package domain

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Order statuses (DESIGN §4). An order's status is never set by hand: it is
// derived from its lines by DeriveOrderStatus, and every change of it must
// be a move the transition table allows (CheckOrderMove).
const (
	OrderPlaced             = "placed"              // accepted, stock not yet allocated
	OrderAllocated          = "allocated"           // every open unit is reserved at a location
	OrderInFulfilment       = "in_fulfilment"       // picking or packing has started
	OrderReadyForPickup     = "ready_for_pickup"    // every open unit is picked and waits at the pickup store
	OrderPartiallyFulfilled = "partially_fulfilled" // some units shipped or collected, some still open
	OrderCompleted          = "completed"           // nothing open; something was delivered
	OrderCancelled          = "cancelled"           // every unit cancelled
	OrderOnHold             = "on_hold"             // needs human review: oversell, item not found, ...
)

// OrderStatuses lists every order status in lifecycle order.
var OrderStatuses = []string{
	OrderPlaced, OrderAllocated, OrderInFulfilment, OrderReadyForPickup,
	OrderPartiallyFulfilled, OrderCompleted, OrderCancelled, OrderOnHold,
}

// orderMoves is THE transition table: the statuses an order may move to
// from each status. Completed and cancelled are final. Staying in the same
// status is not a move and is always allowed.
var orderMoves = map[string][]string{
	OrderPlaced:             {OrderAllocated, OrderOnHold, OrderCancelled},
	OrderAllocated:          {OrderInFulfilment, OrderReadyForPickup, OrderPartiallyFulfilled, OrderCompleted, OrderOnHold, OrderCancelled},
	OrderInFulfilment:       {OrderAllocated, OrderReadyForPickup, OrderPartiallyFulfilled, OrderCompleted, OrderOnHold, OrderCancelled},
	OrderReadyForPickup:     {OrderAllocated, OrderPartiallyFulfilled, OrderCompleted, OrderOnHold, OrderCancelled},
	OrderPartiallyFulfilled: {OrderCompleted, OrderOnHold},
	OrderOnHold:             {OrderAllocated, OrderInFulfilment, OrderReadyForPickup, OrderPartiallyFulfilled, OrderCompleted, OrderCancelled},
}

// CheckOrderMove returns an ECONFLICT error unless an order may go from one
// status to the other. from == to is no move and always allowed.
func CheckOrderMove(from, to string) error {
	if !slices.Contains(OrderStatuses, from) || !slices.Contains(OrderStatuses, to) {
		return Errorf(ECONFLICT, "Unknown order status move %q → %q.", from, to)
	}
	if from == to || slices.Contains(orderMoves[from], to) {
		return nil
	}
	return Errorf(ECONFLICT, "An order that is %s cannot become %s.", OrderStatusLabel(from), OrderStatusLabel(to))
}

// OrderStatusLabel is an order status in words.
func OrderStatusLabel(s string) string {
	switch s {
	case OrderPlaced:
		return "placed"
	case OrderAllocated:
		return "allocated"
	case OrderInFulfilment:
		return "in fulfilment"
	case OrderReadyForPickup:
		return "ready for pickup"
	case OrderPartiallyFulfilled:
		return "partially fulfilled"
	case OrderCompleted:
		return "completed"
	case OrderCancelled:
		return "cancelled"
	case OrderOnHold:
		return "on hold"
	}
	return s
}

// OrderStatusTone is the colour class that goes with a status (always shown
// beside its text): ok, warn, bad or muted.
func OrderStatusTone(s string) string {
	switch s {
	case OrderCompleted, OrderReadyForPickup:
		return "ok"
	case OrderOnHold:
		return "bad"
	case OrderCancelled:
		return "muted"
	}
	return "warn"
}

// Fulfilment methods: an order is collected at a store or shipped.
const (
	FulfilPickup = "pickup"
	FulfilShip   = "ship"
)

// Promise times: a pickup order is promised ready PickupPrepTime after it
// is placed (and again after its pickup store changes); a ship order is
// promised to leave ShipBy after it is placed. Past them, it is overdue.
const (
	PickupPrepTime = 2 * time.Hour
	ShipBy         = 24 * time.Hour
)

// FulfilmentFor is how a channel's orders reach the customer: bopis orders
// are picked up, every other channel ships (or delivers).
func FulfilmentFor(ch Channel) string {
	if ch == BOPIS {
		return FulfilPickup
	}
	return FulfilShip
}

// LineQty is one order line's quantity split into states. The states always
// add up to Qty (Check). Reserved and Picked units are both held in the
// position's reserved bucket; Shipped and PickedUp have left on_hand.
type LineQty struct {
	Qty       int `db:"qty" json:"qty"`             // ordered
	Pending   int `db:"pending" json:"pending"`     // not reserved anywhere: needs allocation or a decision
	Reserved  int `db:"reserved" json:"reserved"`   // held at the line's location
	Picked    int `db:"picked" json:"picked"`       // picked and staged at the line's location
	Shipped   int `db:"shipped" json:"shipped"`     // left in a shipment
	PickedUp  int `db:"picked_up" json:"picked_up"` // collected by the customer
	Cancelled int `db:"cancelled" json:"cancelled"` // will not be delivered
	Returned  int `db:"returned" json:"returned"`   // delivered, then returned
	Moved     int `db:"moved" json:"moved"`         // reallocated to another line (another location)
}

// Check reports an EINTERNAL error when the states do not add up or one is
// negative. Every change of a line is checked before it is written.
func (l LineQty) Check() error {
	parts := []int{l.Pending, l.Reserved, l.Picked, l.Shipped, l.PickedUp, l.Cancelled, l.Returned, l.Moved}
	sum := 0
	for _, p := range parts {
		if p < 0 {
			return Errorf(EINTERNAL, "order line has a negative quantity state: %+v", l)
		}
		sum += p
	}
	if l.Qty <= 0 || sum != l.Qty {
		return Errorf(EINTERNAL, "order line states add up to %d, not the ordered %d: %+v", sum, l.Qty, l)
	}
	return nil
}

// Open is the units still to be delivered: pending, reserved or picked.
func (l LineQty) Open() int { return l.Pending + l.Reserved + l.Picked }

// Held is the units the line holds in the position's reserved bucket.
func (l LineQty) Held() int { return l.Reserved + l.Picked }

// Delivered is the units that reached the customer (returned ones included).
func (l LineQty) Delivered() int { return l.Shipped + l.PickedUp + l.Returned }

// State names the line's state in one word, for the API and pages: the
// least advanced state any of its open units is in, or where it ended.
func (l LineQty) State() string {
	switch {
	case l.Pending > 0:
		return "pending"
	case l.Reserved > 0:
		return "reserved"
	case l.Picked > 0:
		return "picked"
	case l.Returned > 0 && l.Shipped+l.PickedUp == 0:
		return "returned"
	case l.PickedUp > 0:
		return "picked_up"
	case l.Shipped > 0:
		return "shipped"
	case l.Cancelled > 0:
		return "cancelled"
	case l.Moved > 0:
		return "reallocated"
	}
	return "pending"
}

// Line operations: each moves units of one line from some states to another.
const (
	LineAllocate = "allocate" // pending → reserved
	LinePick     = "pick"     // reserved → picked
	LineUnpick   = "unpick"   // picked → reserved (the pick is undone, e.g. a pickup store change)
	LineReject   = "reject"   // reserved or picked → pending (item not found or damaged at pick)
	LineShip     = "ship"     // picked, then reserved → shipped
	LinePickUp   = "pick_up"  // picked → picked_up
	LineCancel   = "cancel"   // pending, then reserved, then picked → cancelled
	LineReturn   = "return"   // picked_up, then shipped → returned
	LineMove     = "move"     // pending → moved (reallocated onto a new line)
)

// LineChange is what an operation did to one line: the new quantities and
// how many units came out of the held states (reserved or picked), which is
// how far the line's reservation shrinks.
type LineChange struct {
	After       LineQty
	FromPending int
	FromHeld    int // units that leave the reserved bucket (or, for unpick/pick, change state within it)
}

// Apply moves n units of the line by op and returns the change, or an
// EINVALID error (field "qty") when the line has fewer units in the states
// op takes from.
func (l LineQty) Apply(op string, n int) (LineChange, error) {
	if n <= 0 {
		return LineChange{}, FieldError("qty", "Quantity must be at least 1.")
	}
	c := LineChange{After: l}
	a := &c.After
	short := func(have int, what string) error {
		return FieldError("qty", "Only %d unit(s) of this line are %s; cannot %s %d.", have, what, strings.ReplaceAll(op, "_", " "), n)
	}
	switch op {
	case LineAllocate:
		if a.Pending < n {
			return c, short(a.Pending, "waiting for allocation")
		}
		a.Pending, a.Reserved, c.FromPending = a.Pending-n, a.Reserved+n, n
	case LinePick:
		if a.Reserved < n {
			return c, short(a.Reserved, "reserved and not yet picked")
		}
		a.Reserved, a.Picked, c.FromHeld = a.Reserved-n, a.Picked+n, n
	case LineUnpick:
		if a.Picked < n {
			return c, short(a.Picked, "picked")
		}
		a.Picked, a.Reserved, c.FromHeld = a.Picked-n, a.Reserved+n, n
	case LineReject:
		if a.Held() < n {
			return c, short(a.Held(), "reserved or picked")
		}
		fromRes := min(a.Reserved, n)
		a.Reserved -= fromRes
		a.Picked -= n - fromRes
		a.Pending += n
		c.FromHeld = n
	case LineShip:
		if a.Held() < n {
			return c, short(a.Held(), "reserved or picked")
		}
		fromPicked := min(a.Picked, n)
		a.Picked -= fromPicked
		a.Reserved -= n - fromPicked
		a.Shipped += n
		c.FromHeld = n
	case LinePickUp:
		if a.Picked < n {
			return c, short(a.Picked, "picked and ready")
		}
		a.Picked, a.PickedUp, c.FromHeld = a.Picked-n, a.PickedUp+n, n
	case LineCancel:
		if a.Open() < n {
			return c, short(a.Open(), "still open")
		}
		c.FromPending = min(a.Pending, n)
		rest := n - c.FromPending
		fromRes := min(a.Reserved, rest)
		a.Pending -= c.FromPending
		a.Reserved -= fromRes
		a.Picked -= rest - fromRes
		a.Cancelled += n
		c.FromHeld = rest
	case LineReturn:
		if a.PickedUp+a.Shipped < n {
			return c, short(a.PickedUp+a.Shipped, "delivered")
		}
		fromPU := min(a.PickedUp, n)
		a.PickedUp -= fromPU
		a.Shipped -= n - fromPU
		a.Returned += n
	case LineMove:
		if a.Pending < n {
			return c, short(a.Pending, "waiting for a decision")
		}
		a.Pending, a.Moved, c.FromPending = a.Pending-n, a.Moved+n, n
	default:
		return c, Errorf(EINTERNAL, "unknown line operation %q", op)
	}
	if err := a.Check(); err != nil {
		return c, err
	}
	return c, nil
}

// OrderFacts is what the status is derived from.
type OrderFacts struct {
	Fulfilment string    // FulfilPickup or FulfilShip
	Lines      []LineQty // every line, reallocated ones included
	Hold       bool      // an open hold (oversell, item not found) awaits a person
}

// DeriveOrderStatus is THE rule for an order's status:
//
//	every unit cancelled                           → cancelled
//	nothing open (all delivered or cancelled)      → completed
//	an open hold, or units waiting after a reject  → on_hold
//	units never allocated yet                      → placed
//	something delivered, something still open      → partially_fulfilled
//	pickup order with every open unit picked       → ready_for_pickup
//	some units picked                              → in_fulfilment
//	otherwise (every open unit reserved)           → allocated
func DeriveOrderStatus(f OrderFacts) string {
	var open, pending, reserved, picked, delivered, cancelled, live int
	for _, l := range f.Lines {
		open += l.Open()
		pending += l.Pending
		reserved += l.Reserved
		picked += l.Picked
		delivered += l.Delivered()
		cancelled += l.Cancelled
		live += l.Qty - l.Moved
	}
	switch {
	case live > 0 && cancelled == live:
		return OrderCancelled
	case open == 0 && live > 0:
		return OrderCompleted
	case f.Hold:
		return OrderOnHold
	case pending > 0:
		return OrderPlaced
	case delivered > 0:
		return OrderPartiallyFulfilled
	case f.Fulfilment == FulfilPickup && reserved == 0 && picked > 0:
		return OrderReadyForPickup
	case picked > 0:
		return OrderInFulfilment
	}
	return OrderAllocated
}

// Payment statuses an order may arrive with.
const (
	PaymentPending    = "pending"
	PaymentAuthorized = "authorized"
	PaymentCaptured   = "captured"
	PaymentRefunded   = "refunded"
)

// PaymentStatuses lists every payment status.
var PaymentStatuses = []string{PaymentPending, PaymentAuthorized, PaymentCaptured, PaymentRefunded}

// Customer is who an order is for.
type Customer struct {
	Name  string `json:"name" db:"customer_name"`
	Email string `json:"email" db:"customer_email"`
	Phone string `json:"phone" db:"customer_phone"`
}

// OrderLineInput is one requested line of a new order.
type OrderLineInput struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// NewOrder is an order to create, from the API or a connector.
type NewOrder struct {
	Channel        Channel
	ExternalRef    string // the source system's id for the order (Shopify: the bare decimal order id)
	Customer       Customer
	PickupLocation string // location code; required for bopis
	ReservationID  int64  // an existing reservation to commit to the order; 0 reserves now
	PaymentStatus  string
	Lines          []OrderLineInput
	Source         string    // "api", a connector name; who sent the order
	PlacedAt       time.Time // when the customer placed it at the source; zero means now
}

// MaxOrderLines bounds the lines one order may carry.
const MaxOrderLines = 200

// Normalize trims the order's text fields and fills defaults.
func (o *NewOrder) Normalize() {
	o.ExternalRef = strings.TrimSpace(o.ExternalRef)
	o.Customer.Name = strings.TrimSpace(o.Customer.Name)
	o.Customer.Email = strings.ToLower(strings.TrimSpace(o.Customer.Email))
	o.Customer.Phone = NormalizePhone(o.Customer.Phone)
	o.PickupLocation = strings.ToUpper(strings.TrimSpace(o.PickupLocation))
	o.PaymentStatus = strings.TrimSpace(o.PaymentStatus)
	if o.PaymentStatus == "" {
		o.PaymentStatus = PaymentPending
	}
	if o.Source == "" {
		o.Source = "api"
	}
	for i := range o.Lines {
		o.Lines[i].SKU = strings.TrimSpace(o.Lines[i].SKU)
	}
}

// Validate checks a normalized new order's own fields (not stock).
func (o NewOrder) Validate() error {
	if _, err := ParseChannel(string(o.Channel)); err != nil {
		return err
	}
	if len(o.ExternalRef) > 255 {
		return FieldError("external_ref", "External reference must be at most 255 characters.")
	}
	if o.Customer.Name == "" && o.Customer.Email == "" && o.Customer.Phone == "" {
		return FieldError("customer", "Give the customer's name, email or phone, so the order can be found and the customer told.")
	}
	if len(o.Customer.Name) > 200 {
		return FieldError("customer.name", "Customer name must be at most 200 characters.")
	}
	if o.Customer.Email != "" {
		if a, err := mail.ParseAddress(o.Customer.Email); err != nil || a.Address != o.Customer.Email || len(o.Customer.Email) > 254 {
			return FieldError("customer.email", "%q is not an email address.", o.Customer.Email)
		}
	}
	if len(o.Customer.Phone) > 32 {
		return FieldError("customer.phone", "Phone must be at most 32 characters.")
	}
	if !slices.Contains(PaymentStatuses, o.PaymentStatus) {
		return FieldError("payment_status", "Unknown payment status %q; use pending, authorized, captured or refunded.", o.PaymentStatus)
	}
	if o.Channel == BOPIS && o.PickupLocation == "" && o.ReservationID == 0 {
		return FieldError("pickup_location", "A bopis order needs a pickup_location.")
	}
	if o.Channel != BOPIS && o.PickupLocation != "" {
		return FieldError("pickup_location", "pickup_location is only for bopis orders.")
	}
	if o.ReservationID < 0 {
		return FieldError("reservation_id", "reservation_id must be a positive id.")
	}
	if len(o.Lines) == 0 {
		return FieldError("lines", "An order needs at least one line.")
	}
	if len(o.Lines) > MaxOrderLines {
		return FieldError("lines", "An order may have at most %d lines.", MaxOrderLines)
	}
	seen := map[string]bool{}
	for i, l := range o.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		if l.SKU == "" {
			return FieldError(f+".sku", "Line %d has no sku.", i+1)
		}
		if seen[l.SKU] {
			return FieldError(f+".sku", "SKU %s appears on two lines; put the whole quantity on one line.", l.SKU)
		}
		seen[l.SKU] = true
		if l.Qty <= 0 || l.Qty > 10_000 {
			return FieldError(f+".qty", "Line %d: qty must be between 1 and 10000.", i+1)
		}
	}
	return nil
}

// NormalizePhone keeps a leading + and the digits of a phone number, so
// "+1 (555) 010-2000" and "+15550102000" find the same orders.
func NormalizePhone(s string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Reject reasons: why an associate could not pick a line, and what that
// does to stock. Each moves the rejected units out of reserved and into a
// bucket that keeps them out of ATP until someone counts or inspects them.
const (
	RejectNotFound = "not_found" // the shelf is empty: units go to quality_hold as missing, pending a count
	RejectDamaged  = "damaged"   // found but not sellable: units go to damaged
)

// RejectReasons lists the reject reasons in form order.
var RejectReasons = []string{RejectNotFound, RejectDamaged}

// RejectEffect is the stock effect of a reject reason: which bucket the
// units move into (from reserved) and the ledger reason code.
func RejectEffect(reason string) (Bucket, Reason, error) {
	switch reason {
	case RejectNotFound:
		return QualityHold, ReasonMissing, nil
	case RejectDamaged:
		return Damaged, ReasonDamaged, nil
	}
	return "", "", FieldError("reason", "Choose why the item cannot be picked: not found or damaged.")
}

// RejectReasonLabel is a reject reason in words, with its stock effect.
func RejectReasonLabel(reason string) string {
	switch reason {
	case RejectNotFound:
		return "Not found on the shelf (units held as missing until counted)"
	case RejectDamaged:
		return "Found damaged (units moved to damaged)"
	}
	return reason
}
