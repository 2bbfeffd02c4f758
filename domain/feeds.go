package domain

import (
	"fmt"
	"strings"
	"time"
)

// Connector kinds (DESIGN §7).
const (
	ConnectorPOS       = "pos"
	ConnectorEcommerce = "ecommerce"
	ConnectorWarehouse = "warehouse"
	ConnectorCounts    = "counts"
)

// ConnectorKinds lists every connector kind.
var ConnectorKinds = []string{ConnectorPOS, ConnectorEcommerce, ConnectorWarehouse, ConnectorCounts}

// Ref names an item or a location the way a feed does. Kind says how to
// resolve it: "item" and "location" go through the connector's mapping
// table; "sku" and "location_code" are already Stockline's own names.
type Ref struct {
	Kind string
	ID   string
}

// Ref kinds.
const (
	RefItem         = "item"
	RefLocation     = "location"
	RefSKU          = "sku"
	RefLocationCode = "location_code"
)

// ItemRef is a feed's item id, resolved through the connector's mappings.
func ItemRef(id string) Ref { return Ref{RefItem, id} }

// LocationRef is a feed's location id, resolved through the mappings.
func LocationRef(id string) Ref { return Ref{RefLocation, id} }

// StockChange is one change a feed reports at one location, in Stockline's
// terms but still naming the feed's item and location. Either Count is set
// (a count snapshot: on hand was Count at the event's time) or Moves are
// (bucket deltas with Reason).
type StockChange struct {
	Item     Ref
	Location Ref
	Count    *int
	Moves    []Movement
	Reason   Reason
}

// Validate checks quantities are within bounds and the change says something.
func (c StockChange) Validate() error {
	if c.Item.ID == "" {
		return Errorf(EINVALID, "The change names no item.")
	}
	if c.Location.ID == "" {
		return Errorf(EINVALID, "The change names no location.")
	}
	if c.Count != nil {
		if *c.Count < 0 || *c.Count > MaxQuantity {
			return Errorf(EINVALID, "Counted quantity %d is outside 0..%d.", *c.Count, MaxQuantity)
		}
		return nil
	}
	if c.Reason == "" {
		return Errorf(EINVALID, "The change has no reason code.")
	}
	for _, m := range c.Moves {
		if m.Delta > MaxQuantity || m.Delta < -MaxQuantity {
			return Errorf(EINVALID, "Quantity %d is outside ±%d.", m.Delta, MaxQuantity)
		}
		if m.Bucket == Reserved || m.Bucket == TransferOut || m.Bucket == InTransitIn {
			// Those buckets belong to reservations and transfers, whose own
			// records must move with them; a feed cannot move them alone.
			return Errorf(EINVALID, "A feed cannot move the %s bucket.", m.Bucket)
		}
	}
	return nil
}

// OnHandDelta is the change's net effect on on_hand (zero for counts).
func (c StockChange) OnHandDelta() int {
	d := 0
	for _, m := range c.Moves {
		if m.Bucket == OnHand {
			d += m.Delta
		}
	}
	return d
}

// CountAnchor is the newest count applied to a position: on hand was
// Quantity at CountedAt.
type CountAnchor struct {
	CountedAt time.Time
	Quantity  int
	Ref       string
}

// SupersededBy reports whether a movement that happened at t is already
// reflected in the anchor count: it happened at or before the count, so
// the counted quantity includes it. Feeds deliver late and out of order;
// applying such a movement again would count it twice.
func (a *CountAnchor) SupersededBy(t time.Time) bool {
	return a != nil && !t.After(a.CountedAt)
}

// CountMovements returns the movements that make a count at time t take
// effect, given the on-hand quantity as of t (the current on hand less the
// on-hand movements recorded after t). A count no newer than the anchor is
// stale: an even newer count already holds, so it moves nothing and
// applies is false. Movements reuses Adjustment with Counted, the same
// rule a person's count follows.
func CountMovements(anchor *CountAnchor, t time.Time, counted, onHandAsOf int) (moves []Movement, applies bool, err error) {
	if anchor != nil && !t.After(anchor.CountedAt) {
		return nil, false, nil
	}
	adj := Adjustment{Reason: ReasonCycleCount, Counted: &counted}
	moves, err = adj.Movements(Position{OnHand: onHandAsOf})
	return moves, err == nil, err
}

// ParseWholeQuantity reads a feed's decimal-string quantity ("3",
// "2.000") as whole units. Fractions, signs, exponents and values beyond
// MaxQuantity are errors: Stockline counts whole units.
func ParseWholeQuantity(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("quantity is empty")
	}
	if len(t) > 40 {
		return 0, fmt.Errorf("quantity %.20q… is too long", t)
	}
	if t[0] == '-' {
		return 0, fmt.Errorf("quantity %q is negative", t)
	}
	whole, frac, hasDot := strings.Cut(t, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("quantity %q is not a decimal number", t)
	}
	if strings.Trim(frac, "0") != "" {
		return 0, fmt.Errorf("quantity %q is not a whole number of units", t)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 7 {
		return 0, fmt.Errorf("quantity %q is over %d", t, MaxQuantity)
	}
	n := 0
	for _, c := range whole {
		n = n*10 + int(c-'0')
	}
	if n > MaxQuantity {
		return 0, fmt.Errorf("quantity %q is over %d", t, MaxQuantity)
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ExternalOrder is an order placed on an ecommerce platform, as a feed
// reports it. The orders capability turns it into a Stockline order whose
// external reference is ExternalRef, the platform's bare decimal id.
type ExternalOrder struct {
	Source          string // the connector's name
	ExternalRef     string // e.g. "820982911946154508", never the "#1001" name
	Name            string // the platform's display name, e.g. "#1001"
	Channel         Channel
	PickupLocation  Ref    // for BOPIS; resolved into PickupCode
	PickupCode      string // our location code, filled in when resolved
	CustomerName    string
	CustomerEmail   string
	CustomerPhone   string
	FinancialStatus string // the platform's payment status, e.g. "paid"
	PlacedAt        time.Time
	Lines           []ExternalOrderLine
	SourceEventID   string // the feed event that carried it, e.g. "shopify:order:820982911946154508:created"
	Via             string // how it arrived: pull or webhook
}

// ExternalOrderLine is one line of an ExternalOrder.
type ExternalOrderLine struct {
	ExternalLineID string
	Item           Ref    // resolved into SKU and ProductID
	SKU            string // filled in when resolved
	ProductID      int64
	Quantity       int
}

// ExternalOrderCancel says a platform cancelled an order.
type ExternalOrderCancel struct {
	Source        string
	ExternalRef   string
	Reason        string
	ReasonCode    CancelReason // the platform's reason mapped onto a code
	CancelledAt   time.Time
	SourceEventID string // the feed event that carried it
	Via           string // how it arrived: pull or webhook
}

// Validate checks an external order is complete enough to create.
func (o ExternalOrder) Validate() error {
	if o.ExternalRef == "" {
		return Errorf(EINVALID, "The order has no id.")
	}
	if len(o.Lines) == 0 {
		return Errorf(EINVALID, "Order %s has no lines.", o.ExternalRef)
	}
	for _, l := range o.Lines {
		if l.Quantity <= 0 || l.Quantity > MaxQuantity {
			return Errorf(EINVALID, "Order %s line %s has quantity %d.", o.ExternalRef, l.ExternalLineID, l.Quantity)
		}
		if l.Item.ID == "" {
			return Errorf(EINVALID, "Order %s line %s names no item.", o.ExternalRef, l.ExternalLineID)
		}
	}
	if o.Channel == BOPIS && o.PickupLocation.ID == "" {
		return Errorf(EINVALID, "Pickup order %s names no pickup location.", o.ExternalRef)
	}
	return nil
}

// Feed statuses, as the connector pages show them.
const (
	FeedHealthy  = "healthy"
	FeedStarting = "starting" // never pulled yet, within its stale threshold
	FeedRetrying = "retrying" // failed once or twice; backing off
	FeedFailing  = "failing"  // FeedFailingAfter failures in a row
	FeedStale    = "stale"    // no success for longer than its threshold
	FeedPaused   = "paused"
)

// FeedFailingAfter is how many failures in a row make a feed failing.
const FeedFailingAfter = 3

// FeedStatus says how a feed is doing: paused, failing (several failures in
// a row), stale (no success within staleAfter, counted from its creation
// when it never succeeded), retrying, starting or healthy.
func FeedStatus(enabled bool, lastSuccess, created time.Time, staleAfter time.Duration, errorCount int, now time.Time) string {
	since := lastSuccess
	if since.IsZero() {
		since = created
	}
	switch {
	case !enabled:
		return FeedPaused
	case errorCount >= FeedFailingAfter:
		return FeedFailing
	case now.Sub(since) > staleAfter:
		return FeedStale
	case errorCount > 0:
		return FeedRetrying
	case lastSuccess.IsZero():
		return FeedStarting
	}
	return FeedHealthy
}

// FeedStatusText is a feed status in words, for status shown as text and
// colour.
func FeedStatusText(s string) string {
	switch s {
	case FeedHealthy:
		return "Healthy"
	case FeedStarting:
		return "Starting"
	case FeedRetrying:
		return "Retrying after an error"
	case FeedFailing:
		return "Failing"
	case FeedStale:
		return "Stale"
	case FeedPaused:
		return "Paused"
	}
	return s
}
