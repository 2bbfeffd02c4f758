package domain

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReservationStatus is where a reservation is in its life:
// held → committed → fulfilled, with released and expired as exits.
type ReservationStatus string

// The reservation statuses (DESIGN §3).
const (
	Held      ReservationStatus = "held"      // stock held for a checkout, until expires_at
	Committed ReservationStatus = "committed" // an order was placed; held until fulfilled or released
	Fulfilled ReservationStatus = "fulfilled" // picked up or shipped: the units left on_hand
	Released  ReservationStatus = "released"  // given back on purpose, with a reason
	Expired   ReservationStatus = "expired"   // the hold ran out and the sweeper gave it back
)

// ReservationStatuses lists every status in life order.
var ReservationStatuses = []ReservationStatus{Held, Committed, Fulfilled, Released, Expired}

// Active reports whether a reservation in this status holds stock: the
// reserved bucket of a position is the sum of its active lines.
func (s ReservationStatus) Active() bool { return s == Held || s == Committed }

// reservationTransitions is the whole transition table; anything not
// listed is forbidden.
var reservationTransitions = map[ReservationStatus][]ReservationStatus{
	Held:      {Committed, Released, Expired},
	Committed: {Fulfilled, Released},
}

// CanTransition reports whether a reservation may move from one status to
// another.
func CanTransition(from, to ReservationStatus) bool {
	return slices.Contains(reservationTransitions[from], to)
}

// TransitionError explains why a reservation in status from cannot move to
// to: 409 reservation_expired for a lapsed hold, reservation_closed for
// anything else that is over.
func TransitionError(id int64, from, to ReservationStatus) *Error {
	code := CodeReservationClosed
	if from == Expired {
		code = CodeReservationExpired
	}
	return &Error{Code: code,
		Message: fmt.Sprintf("Reservation %d is %s; it cannot become %s.", id, from, to),
		Details: map[string]any{"status": from}}
}

// ReservationMovements is the stock effect of one reservation line of qty
// units changing status, with the ledger reason:
//
//	(new) → held:          reserved +qty        reason reservation
//	held → committed:      nothing moves
//	committed → fulfilled: reserved −qty, on_hand −qty   reason fulfilled
//	→ released | expired:  reserved −qty        reason release
func ReservationMovements(to ReservationStatus, qty int) ([]Movement, Reason) {
	switch to {
	case Held:
		return []Movement{{Reserved, qty}}, ReasonReservation
	case Fulfilled:
		return []Movement{{Reserved, -qty}, {OnHand, -qty}}, ReasonFulfilled
	case Released, Expired:
		return []Movement{{Reserved, -qty}}, ReasonRelease
	}
	return nil, ""
}

// Limits on a reservation request; anything larger is a mistake or abuse.
const (
	MaxReservationLines = 100
	MaxReservationQty   = 10_000 // units of one SKU in one request
	MaxRefLength        = 200    // checkout_ref, order_ref, reason
)

// ReservationLineRequest is one SKU and quantity a checkout asks to hold.
type ReservationLineRequest struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// ReservationRequest is a checkout asking to hold stock.
type ReservationRequest struct {
	Channel     Channel                  `json:"channel"`
	Location    string                   `json:"location,omitempty"`
	CheckoutRef string                   `json:"checkout_ref,omitempty"`
	Lines       []ReservationLineRequest `json:"lines"`
}

// LocationRequired reports whether a channel's requests must name the
// location: BOPIS holds at the store the customer picks up from; ship
// channels may leave it to sourcing.
func LocationRequired(ch Channel) bool { return ch == BOPIS }

// Validate checks the request's own fields (no lookups): a known channel,
// a location where one is required, 1..100 lines with a SKU each, no SKU
// twice, and quantities from 1 to 10,000.
func (r ReservationRequest) Validate() error {
	if _, err := ParseChannel(string(r.Channel)); err != nil {
		return err
	}
	if LocationRequired(r.Channel) && strings.TrimSpace(r.Location) == "" {
		return FieldError("location", "A %s reservation needs the pickup location.", r.Channel)
	}
	if len(r.CheckoutRef) > MaxRefLength {
		return FieldError("checkout_ref", "checkout_ref is longer than %d characters.", MaxRefLength)
	}
	if len(r.Lines) == 0 {
		return FieldError("lines", "Give at least one line with a sku and qty.")
	}
	if len(r.Lines) > MaxReservationLines {
		return FieldError("lines", "A reservation takes at most %d lines.", MaxReservationLines)
	}
	seen := make(map[string]bool, len(r.Lines))
	for i, l := range r.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		switch {
		case strings.TrimSpace(l.SKU) == "":
			return FieldError(f+".sku", "Line %d has no sku.", i+1)
		case seen[l.SKU]:
			return FieldError(f+".sku", "SKU %q appears on more than one line; put its whole quantity on one line.", l.SKU)
		case l.Qty <= 0:
			return FieldError(f+".qty", "Line %d: qty must be at least 1.", i+1)
		case l.Qty > MaxReservationQty:
			return FieldError(f+".qty", "Line %d: qty %d is more than the %d a reservation line may hold.", i+1, l.Qty, MaxReservationQty)
		}
		seen[l.SKU] = true
	}
	return nil
}

// HoldExpiry is when a new hold taken now lapses: the policy's hold TTL.
func HoldExpiry(p Policy, now time.Time) time.Time { return now.Add(p.HoldTTL) }

// CommitExpiry is how long a committed reservation keeps its stock: to the
// end of the pickup window for channels that have one (BOPIS), otherwise
// one more hold TTL from now. It never shortens the current hold. The
// sweeper expires only uncommitted holds: a committed reservation past this
// time is overdue work for a person (the order is waiting), not stock to
// take back silently.
func CommitExpiry(p Policy, now, current time.Time) time.Time {
	d := p.HoldTTL
	if p.PickupWindow > 0 {
		d = p.PickupWindow
	}
	return later(now.Add(d), current)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Reservable is how many units a reservation for the policy's channel may
// take at a location: the channel's ATP there, and never more than is
// physically on hand and not already reserved, so reserved ≤ on_hand holds
// even when a policy promises incoming stock.
func Reservable(p Policy, loc Location, pos Position) int {
	return max(0, min(p.LocationATP(loc, pos), pos.OnHand-pos.Reserved))
}

// SourceStock is one candidate location's reservable quantity of a SKU.
type SourceStock struct {
	Location   Location
	Reservable int
}

// Allocation is part (or all) of a request line held at one location.
type Allocation struct {
	Line     int // index into the request's lines
	SKU      string
	Location Location
	Qty      int
}

// ShortLine is one line of an insufficient_stock answer.
type ShortLine struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
	Location  string `json:"location,omitempty"` // set when the line could come from one location only
}

// kindRank orders location kinds for sourcing: DC, then warehouse, then store.
func kindRank(k LocationKind) int {
	switch k {
	case DC:
		return 0
	case Warehouse:
		return 1
	}
	return 2
}

// Source decides where each line of a request is held. cands[i] lists the
// locations that may serve line i (the policy's eligible locations, or
// only the location the request named) with their reservable quantity.
// The rule, in order:
//
//  1. One location that can fill every line wins. Among several: a DC before
//     a warehouse before a store, then the most units across the lines, then
//     the location code.
//  2. Otherwise, when the policy does not allow splitting, nothing is held.
//  3. Otherwise lines are filled in request order. For each line the
//     candidates are tried in this order: one that can fill what is left of
//     the line, one the reservation already uses, DC before warehouse before
//     store, the most units, the location code. A line takes what it can
//     from each in turn. The reservation never uses more than MaxSplit
//     distinct locations.
//
// When the lines cannot all be filled, Source returns an insufficient_stock
// error (409) listing every line with what it could get on its own: the
// best single location without splitting, or the sum of the best MaxSplit
// locations with it.
func Source(p Policy, lines []ReservationLineRequest, cands [][]SourceStock) ([]Allocation, error) {
	if a := sourceWhole(lines, cands); a != nil {
		return a, nil
	}
	maxSplit := 1
	if p.AllowSplit {
		maxSplit = max(1, p.MaxSplit)
	}
	if maxSplit > 1 {
		if a := sourceSplit(lines, cands, maxSplit); a != nil {
			return a, nil
		}
	}
	short := make([]ShortLine, len(lines))
	for i, l := range lines {
		short[i] = ShortLine{SKU: l.SKU, Requested: l.Qty, Available: reachable(cands[i], maxSplit)}
		if len(cands[i]) == 1 {
			short[i].Location = cands[i][0].Location.Code
		}
	}
	msg := "Not enough stock to hold every line; nothing was held."
	if maxSplit == 1 && len(lines) > 1 {
		msg = "No single location can fill every line and this channel does not split orders; nothing was held."
	}
	return nil, InsufficientStock(msg, short)
}

// InsufficientStock is the 409 insufficient_stock error with its lines.
func InsufficientStock(msg string, lines []ShortLine) *Error {
	return &Error{Code: CodeInsufficientStock, Message: msg, Details: map[string]any{"lines": lines}}
}

func sourceWhole(lines []ReservationLineRequest, cands [][]SourceStock) []Allocation {
	type option struct {
		loc   Location
		total int
	}
	var best *option
	for _, c := range cands[0] {
		total, ok := 0, true
		for i, l := range lines {
			n := reservableAt(cands[i], c.Location.ID)
			if n < l.Qty {
				ok = false
				break
			}
			total += n
		}
		if !ok {
			continue
		}
		o := option{c.Location, total}
		if best == nil || cmp.Or(
			cmp.Compare(kindRank(o.loc.Kind), kindRank(best.loc.Kind)),
			cmp.Compare(best.total, o.total),
			strings.Compare(o.loc.Code, best.loc.Code)) < 0 {
			best = &o
		}
	}
	if best == nil {
		return nil
	}
	out := make([]Allocation, len(lines))
	for i, l := range lines {
		out[i] = Allocation{Line: i, SKU: l.SKU, Location: best.loc, Qty: l.Qty}
	}
	return out
}

func sourceSplit(lines []ReservationLineRequest, cands [][]SourceStock, maxSplit int) []Allocation {
	var used []int64
	var out []Allocation
	for i, l := range lines {
		need := l.Qty
		order := slices.Clone(cands[i])
		slices.SortStableFunc(order, func(a, b SourceStock) int {
			return cmp.Or(
				-cmp.Compare(boolRank(a.Reservable >= need), boolRank(b.Reservable >= need)),
				-cmp.Compare(boolRank(slices.Contains(used, a.Location.ID)), boolRank(slices.Contains(used, b.Location.ID))),
				cmp.Compare(kindRank(a.Location.Kind), kindRank(b.Location.Kind)),
				cmp.Compare(b.Reservable, a.Reservable),
				strings.Compare(a.Location.Code, b.Location.Code))
		})
		for _, c := range order {
			if need == 0 {
				break
			}
			if c.Reservable <= 0 {
				continue
			}
			if !slices.Contains(used, c.Location.ID) {
				if len(used) == maxSplit {
					continue
				}
				used = append(used, c.Location.ID)
			}
			take := min(need, c.Reservable)
			out = append(out, Allocation{Line: i, SKU: l.SKU, Location: c.Location, Qty: take})
			need -= take
		}
		if need > 0 {
			return nil
		}
	}
	return out
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func reservableAt(cands []SourceStock, locID int64) int {
	for _, c := range cands {
		if c.Location.ID == locID {
			return c.Reservable
		}
	}
	return 0
}

// reachable is what one line could get on its own: the sum of the best n
// locations' reservable quantities.
func reachable(cands []SourceStock, n int) int {
	q := make([]int, 0, len(cands))
	for _, c := range cands {
		q = append(q, max(0, c.Reservable))
	}
	slices.SortFunc(q, func(a, b int) int { return b - a })
	total := 0
	for i := 0; i < n && i < len(q); i++ {
		total += q[i]
	}
	return total
}

// ReleaseReasons are the reasons a person picks on the reservations page.
var ReleaseReasons = []string{"customer_cancelled", "checkout_abandoned", "item_not_found", "duplicate_hold", "other"}

// ReleaseReasonLabel is the human name of a release reason.
func ReleaseReasonLabel(r string) string {
	switch r {
	case "customer_cancelled":
		return "Customer cancelled"
	case "checkout_abandoned":
		return "Checkout abandoned"
	case "item_not_found":
		return "Item not found on the shelf"
	case "duplicate_hold":
		return "Duplicate hold"
	case "other":
		return "Other (say why in the note)"
	case "expired":
		return "Expired"
	}
	return r
}

// ValidateReleaseReason checks the reason given for releasing a hold.
func ValidateReleaseReason(reason string) error {
	switch r := strings.TrimSpace(reason); {
	case r == "":
		return FieldError("reason", "Say why the reservation is released.")
	case len(r) > MaxRefLength:
		return FieldError("reason", "The reason is longer than %d characters.", MaxRefLength)
	}
	return nil
}

// Reservation is stock held for one checkout, on one or more lines.
type Reservation struct {
	ID            int64
	Channel       Channel
	Status        ReservationStatus
	CheckoutRef   string
	OrderRef      string
	ExpiresAt     time.Time
	CreatedAt     time.Time
	CreatedBy     string // the actor that took the hold
	CommittedAt   *time.Time
	ClosedAt      *time.Time
	ReleaseReason string
	Lines         []ReservationLine
}

// ReservationLine is the quantity of one SKU held at one location. A
// request line sourced from two locations becomes two reservation lines.
type ReservationLine struct {
	LineNo     int
	SKU        string
	Location   string
	Qty        int
	LocationID int64
	ProductID  int64
}

// Units is the total quantity held across the lines.
func (r Reservation) Units() int {
	n := 0
	for _, l := range r.Lines {
		n += l.Qty
	}
	return n
}
