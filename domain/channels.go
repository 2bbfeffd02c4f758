package domain

import (
	"slices"
	"time"
)

// Channel is a sales channel that asks for availability and reserves stock.
type Channel string

// The five channels (DESIGN §3).
const (
	BOPIS         Channel = "bopis"
	ShipFromStore Channel = "ship_from_store"
	Marketplace   Channel = "marketplace"
	LocalDelivery Channel = "local_delivery"
	EcommerceShip Channel = "ecommerce_ship"
)

// Channels lists every channel.
var Channels = []Channel{BOPIS, ShipFromStore, Marketplace, LocalDelivery, EcommerceShip}

// ParseChannel returns the channel named s, or an EINVALID error on field.
func ParseChannel(s string) (Channel, error) {
	c := Channel(s)
	if !slices.Contains(Channels, c) {
		return "", FieldError("channel", "Unknown channel %q; use one of bopis, ship_from_store, marketplace, local_delivery, ecommerce_ship.", s)
	}
	return c, nil
}

// Reserve points: when a channel takes its hold.
const (
	ReserveAtCheckoutStart = "checkout_start"
	ReserveAtOrderPlaced   = "order_placed"
)

// Policy is a channel's rules, kept as data that operators edit.
type Policy struct {
	Channel              Channel        `db:"channel"`
	EligibleKinds        []LocationKind `db:"-"`
	RequirePickup        bool           `db:"require_pickup"`
	RequireShipFromStore bool           `db:"require_ship_from_store"`
	ReserveAt            string         `db:"reserve_at"`
	HoldTTL              time.Duration  `db:"-"`
	SafetyStock          int            `db:"safety_stock"`
	AllowSplit           bool           `db:"allow_split"`
	MaxSplit             int            `db:"max_split"`
	PickupWindow         time.Duration  `db:"-"`
	PromiseIncomingStock bool           `db:"promise_incoming"`
	UpdatedAt            time.Time      `db:"updated_at"`
}

// Eligible reports whether loc may serve the channel under this policy:
// its kind is eligible, it offers pickup if the policy requires it, and a
// store ships from store if the policy requires that.
func (p Policy) Eligible(loc Location) bool { return p.WhyNotEligible(loc) == "" }

// LocationATP is ATP for this policy's channel at loc: zero where the
// location is not eligible. Incoming stock (in_transit_in) counts only when
// the policy promises incoming stock.
func (p Policy) LocationATP(loc Location, pos Position) int {
	if !p.Eligible(loc) {
		return 0
	}
	if p.PromiseIncomingStock {
		pos.OnHand += pos.InTransitIn
	}
	return ATP(pos, p.SafetyStock)
}

// NetworkATP sums LocationATP over the given locations.
func (p Policy) NetworkATP(locs []Location, pos []Position) int {
	total := 0
	for i := range locs {
		total += p.LocationATP(locs[i], pos[i])
	}
	return total
}

// Validate checks a policy an operator submitted.
func (p Policy) Validate() error {
	if !slices.Contains(Channels, p.Channel) {
		return FieldError("channel", "Unknown channel %q.", p.Channel)
	}
	if len(p.EligibleKinds) == 0 {
		return FieldError("eligible_kinds", "Pick at least one eligible location kind.")
	}
	for _, k := range p.EligibleKinds {
		if !slices.Contains(LocationKinds, k) {
			return FieldError("eligible_kinds", "Unknown location kind %q.", k)
		}
	}
	if p.ReserveAt != ReserveAtCheckoutStart && p.ReserveAt != ReserveAtOrderPlaced {
		return FieldError("reserve_at", "Reserve at must be checkout_start or order_placed.")
	}
	if p.HoldTTL < time.Minute || p.HoldTTL > 30*24*time.Hour {
		return FieldError("hold_ttl", "Hold TTL must be between 1 minute and 30 days.")
	}
	if p.SafetyStock < 0 || p.SafetyStock > 10000 {
		return FieldError("safety_stock", "Safety stock must be between 0 and 10000 units.")
	}
	if p.MaxSplit < 1 || p.MaxSplit > 20 {
		return FieldError("max_split", "Max split must be between 1 and 20 locations.")
	}
	if !p.AllowSplit && p.MaxSplit != 1 {
		return FieldError("max_split", "Max split must be 1 when splitting is off.")
	}
	if p.PickupWindow < 0 || p.PickupWindow > 30*24*time.Hour {
		return FieldError("pickup_window", "Pickup window must be between 0 and 30 days.")
	}
	if p.Channel == BOPIS && p.PickupWindow == 0 {
		return FieldError("pickup_window", "BOPIS needs a pickup window.")
	}
	return nil
}

// EligibilityText describes the eligibility rule in words, for pages:
// e.g. "dc or warehouse locations" or "store locations, pickup enabled".
func (p Policy) EligibilityText() string {
	s := kindList(p.EligibleKinds) + " locations"
	if p.RequirePickup {
		s += ", pickup enabled"
	}
	if p.RequireShipFromStore {
		s += ", stores must ship-from-store"
	}
	return s
}
