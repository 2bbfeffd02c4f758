package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Disposition is what happens to a returned unit.
type Disposition string

// The dispositions. DispositionPending marks a return announced (by a
// connector's refund without restock) but not yet received by a store.
const (
	DispositionPending        Disposition = "pending"
	DispositionRestock        Disposition = "restock"
	DispositionDamaged        Disposition = "damaged"
	DispositionQualityHold    Disposition = "quality_hold"
	DispositionReturnToVendor Disposition = "return_to_vendor"
	DispositionDestroy        Disposition = "destroy"
)

// Dispositions lists what a person may choose, in form order.
var Dispositions = []Disposition{DispositionRestock, DispositionDamaged, DispositionQualityHold, DispositionReturnToVendor, DispositionDestroy}

// Return reason codes beyond the common set.
const (
	ReasonReturnQualityHold Reason = "return_quality_hold"
	ReasonReturnToVendor    Reason = "return_to_vendor"
	ReasonReturnDestroyed   Reason = "return_destroyed"
	ReasonQualityRelease    Reason = "quality_release"
)

// ParseDisposition returns the disposition named s or a 422 on field.
func ParseDisposition(s, field string) (Disposition, error) {
	d := Disposition(s)
	if !slices.Contains(Dispositions, d) {
		return "", Unprocessable(field, "Unknown disposition %q; use restock, damaged, quality_hold, return_to_vendor or destroy.", s)
	}
	return d, nil
}

// DispositionSteps is what receiving n returned units with disposition d
// does to the receiving location's buckets:
//
//	restock          on_hand +n                                  (return_restock)
//	damaged          on_hand +n, damaged +n                      (return_damaged)
//	quality_hold     on_hand +n, quality_hold +n                 (return_quality_hold)
//	return_to_vendor arrives damaged, then leaves on_hand and damaged (return_damaged, return_to_vendor)
//	destroy          arrives damaged, then is removed             (return_damaged, return_destroyed)
//
// Only restock raises ATP.
func DispositionSteps(d Disposition, n int) []Step {
	in := func(r Reason, b ...Bucket) Step {
		s := Step{Reason: r, Moves: []Movement{{OnHand, n}}}
		for _, x := range b {
			s.Moves = append(s.Moves, Movement{x, n})
		}
		return s
	}
	out := func(r Reason) Step { return Step{r, []Movement{{OnHand, -n}, {Damaged, -n}}} }
	switch d {
	case DispositionRestock:
		return []Step{in(ReasonReturnRestock)}
	case DispositionDamaged:
		return []Step{in(ReasonReturnDamaged, Damaged)}
	case DispositionQualityHold:
		return []Step{in(ReasonReturnQualityHold, QualityHold)}
	case DispositionReturnToVendor:
		return []Step{in(ReasonReturnDamaged, Damaged), out(ReasonReturnToVendor)}
	case DispositionDestroy:
		return []Step{in(ReasonReturnDamaged, Damaged), out(ReasonReturnDestroyed)}
	}
	return nil
}

// ReleaseSteps releases n units from quality hold: to sellable, or to damaged.
func ReleaseSteps(toDamaged bool, n int) []Step {
	if toDamaged {
		return []Step{{ReasonQualityRelease, []Movement{{QualityHold, -n}, {Damaged, n}}}}
	}
	return []Step{{ReasonQualityRelease, []Movement{{QualityHold, -n}}}}
}

// Returnable is how many units of an order line can still come back: what
// was delivered (shipped or picked up) less what was already returned.
// Returned units leave the shipped and picked-up states (LineReturn), so
// that is what is left in them.
func Returnable(l LineQty) int { return l.Shipped + l.PickedUp }

// ExceedsFulfilled is the 422 for a return line asking more than the
// order delivered and has not had back.
func ExceedsFulfilled(i int, sku string, asked, returnable int) *Error {
	return &Error{Code: CodeExceedsFulfilled, Field: fmt.Sprintf("lines[%d].qty", i),
		Message: fmt.Sprintf("Only %d unit(s) of %s were fulfilled and not yet returned; cannot return %d.", returnable, sku, asked),
		Details: map[string]any{"line": i, "sku": sku, "returnable": returnable}}
}

// ReturnStatus is pending (announced, not yet received) or received.
type ReturnStatus string

// The return statuses.
const (
	ReturnPending  ReturnStatus = "pending"
	ReturnReceived ReturnStatus = "received"
)

// Return is units of an order coming back.
type Return struct {
	ID             int64        `db:"id"`
	OrderID        int64        `db:"order_id"`
	OrderNumber    string       `db:"order_number"`
	LocationID     *int64       `db:"location_id"`
	Location       *string      `db:"location"`
	Status         ReturnStatus `db:"status"`
	Source         string       `db:"source"`
	ExternalRef    string       `db:"external_ref"`
	ExchangeID     *int64       `db:"exchange_order_id"`
	ExchangeNumber *string      `db:"exchange_number"`
	CreatedBy      string       `db:"created_by"`
	CreatedAt      time.Time    `db:"created_at"`
	ReceivedAt     *time.Time   `db:"received_at"`
	Lines          []ReturnLine `db:"-"`
}

// ReturnLine is returned units of one order line with one disposition.
type ReturnLine struct {
	LineNo           int         `db:"line_no"`
	OrderLineID      int64       `db:"order_line_id"`
	ProductID        int64       `db:"product_id"`
	SKU              string      `db:"sku"`
	Name             string      `db:"name"`
	Qty              int         `db:"qty"`
	Disposition      Disposition `db:"disposition"`
	ReleasedSellable int         `db:"released_sellable"`
	ReleasedDamaged  int         `db:"released_damaged"`
	Reason           string      `db:"reason"` // the person's reason, e.g. why the units were destroyed
}

// OnHold is the units still on quality hold.
func (l ReturnLine) OnHold() int {
	if l.Disposition != DispositionQualityHold {
		return 0
	}
	return l.Qty - l.ReleasedSellable - l.ReleasedDamaged
}

// ReturnLineInput is one line of a return request.
type ReturnLineInput struct {
	SKU         string `json:"sku"`
	Qty         int    `json:"qty"`
	Disposition string `json:"disposition"`
	Reason      string `json:"reason,omitempty"` // optional; the desk requires one for destroy
}

// MaxReasonLength bounds a return line's reason.
const MaxReasonLength = 500

// NeedsReason says whether a person must say why units get disposition d:
// destroyed units are removed for good, so the desk asks why.
func NeedsReason(d Disposition) bool { return d == DispositionDestroy }

// NewReturn is a return to record.
type NewReturn struct {
	OrderID       int64
	Location      string // "" only for a pending return
	Lines         []ReturnLineInput
	ExchangeOrder *int64       // an existing order to link as the exchange
	Exchange      *NewExchange // or replacement units: a new order, reserved at Location, in the same transaction
	Source        string       // stockline, api or a connector
	ExternalRef   string       // e.g. a refund id; a second return with the same one is the first
	Pending       bool         // announced, not received: moves no stock
}

// Validate checks the request's own fields (422 with field).
func (n NewReturn) Validate() error {
	if n.OrderID <= 0 {
		return Unprocessable("order", "Name the order the units came from.")
	}
	if n.Location == "" && !n.Pending {
		return Unprocessable("location", "Name the location receiving the return.")
	}
	if len(n.Lines) == 0 || len(n.Lines) > MaxTransferLines {
		return Unprocessable("lines", "Give between 1 and %d lines.", MaxTransferLines)
	}
	if n.Exchange != nil {
		if n.ExchangeOrder != nil {
			return Unprocessable("exchange", "Link an existing exchange order or ask for replacement units, not both.")
		}
		if n.Pending {
			return Unprocessable("exchange", "An exchange needs the return received at a store, where the replacement is reserved.")
		}
		if err := n.Exchange.Validate(); err != nil {
			return err
		}
	}
	for i, l := range n.Lines {
		if l.Qty <= 0 || l.Qty > MaxQuantity {
			return Unprocessable(fmt.Sprintf("lines[%d].qty", i), "Quantity for %s must be between 1 and %d.", l.SKU, MaxQuantity)
		}
		if len(strings.TrimSpace(l.Reason)) > MaxReasonLength {
			return Unprocessable(fmt.Sprintf("lines[%d].reason", i), "Keep the reason for %s to %d characters.", l.SKU, MaxReasonLength)
		}
		if n.Pending {
			continue
		}
		if _, err := ParseDisposition(l.Disposition, fmt.Sprintf("lines[%d].disposition", i)); err != nil {
			return err
		}
	}
	return nil
}

// DispositionLabel is the disposition in words.
func DispositionLabel(d Disposition) string {
	switch d {
	case DispositionPending:
		return "Not yet received"
	case DispositionRestock:
		return "Restock (sellable)"
	case DispositionDamaged:
		return "Damaged"
	case DispositionQualityHold:
		return "Quality hold"
	case DispositionReturnToVendor:
		return "Return to vendor"
	case DispositionDestroy:
		return "Destroy"
	}
	return string(d)
}

// ReturnPart is units of one order line coming back with one disposition.
type ReturnPart struct {
	Line        int // index into the order's lines
	Qty         int
	Disposition Disposition
	Reason      string
}

// PlanReturn spreads each requested line over the order's lines of its SKU,
// in line order, taking from each what it can still return (Returnable)
// less what earlier request lines already took. A SKU the order does not
// have is 422 on lines[i].sku; more than the order delivered and has not
// had back is 422 exceeds_fulfilled naming the line.
func PlanReturn(lines []OrderLine, in []ReturnLineInput, pending bool) ([]ReturnPart, error) {
	taken := make([]int, len(lines))
	var parts []ReturnPart
	for i, r := range in {
		d := DispositionPending
		if !pending {
			d = Disposition(r.Disposition)
		}
		left, found, returnable := r.Qty, false, 0
		for j, l := range lines {
			if l.SKU == r.SKU {
				found = true
				returnable += Returnable(l.LineQty) - taken[j]
			}
		}
		if !found {
			return nil, Unprocessable(fmt.Sprintf("lines[%d].sku", i), "The order has no line for SKU %q.", r.SKU)
		}
		if r.Qty > returnable {
			return nil, ExceedsFulfilled(i, r.SKU, r.Qty, returnable)
		}
		for j, l := range lines {
			if l.SKU != r.SKU || left == 0 {
				continue
			}
			n := min(left, Returnable(l.LineQty)-taken[j])
			if n <= 0 {
				continue
			}
			taken[j] += n
			left -= n
			parts = append(parts, ReturnPart{Line: j, Qty: n, Disposition: d, Reason: strings.TrimSpace(r.Reason)})
		}
	}
	return parts, nil
}

// ReturnSummary is "2 × SKU (restock), 1 × SKU (damaged)".
func ReturnSummary(lines []ReturnLine) string {
	var out []string
	for _, l := range lines {
		out = append(out, fmt.Sprintf("%d × %s (%s)", l.Qty, l.SKU, l.Disposition))
	}
	return strings.Join(out, ", ")
}

// Units is how many units the return holds.
func (r Return) Units() int {
	n := 0
	for _, l := range r.Lines {
		n += l.Qty
	}
	return n
}

// ExternalRefund is a refund an ecommerce platform reports for one of its
// orders. Restocked lines come back through a received return at their
// location (disposition restock); lines refunded without a restock are a
// pending return until a store receives the units.
type ExternalRefund struct {
	Source        string // the connector's name
	RefundID      string // the platform's refund id
	OrderRef      string // the platform's order id (the order's external_ref)
	SourceEventID string
	Via           string
	Lines         []ExternalRefundLine
}

// ExternalRefundLine is one refunded line.
type ExternalRefundLine struct {
	Item         Ref
	Location     Ref // a location reference; set when Restock
	Quantity     int
	Restock      bool
	SKU          string // resolved by the feed
	LocationCode string // resolved by the feed
}
