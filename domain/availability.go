package domain

import (
	"slices"
)

// LocationStock is one location with its position for one SKU; a location
// with no position row has a zero Position.
type LocationStock struct {
	Location
	Position
}

// LocationAvailability is what one location can promise a channel.
type LocationAvailability struct {
	LocationStock
	SafetyStock int    // the policy's buffer, held back at every location
	Eligible    bool   // the policy lets this location serve the channel
	WhyNot      string // when not eligible, why, in words for a tooltip
	ATP         int    // zero when not eligible
}

// Availability is a channel's ATP for one SKU across locations.
type Availability struct {
	Channel    Channel
	NetworkATP int // the sum of ATP over eligible locations
	Locations  []LocationAvailability
}

// ChannelAvailability is THE availability computation: per-location ATP
// for the policy's channel, with eligibility and its reason, and network
// ATP as the sum over the eligible locations. Ineligible locations keep
// their row (ATP 0) so pages and the API can show why.
func ChannelAvailability(p Policy, stock []LocationStock) Availability {
	a := Availability{Channel: p.Channel, Locations: make([]LocationAvailability, len(stock))}
	for i, s := range stock {
		why := p.WhyNotEligible(s.Location)
		la := LocationAvailability{LocationStock: s, SafetyStock: p.SafetyStock, Eligible: why == "", WhyNot: why}
		if la.Eligible {
			la.ATP = p.LocationATP(s.Location, s.Position)
		}
		a.NetworkATP += la.ATP
		a.Locations[i] = la
	}
	return a
}

// WhyNotEligible says why loc may not serve the policy's channel, or ""
// when it may. Eligible is defined by it, so the two never disagree.
func (p Policy) WhyNotEligible(loc Location) string {
	switch {
	// Plain concatenation, not fmt: availability answers build one of these
	// for every ineligible location on every request.
	case !slices.Contains(p.EligibleKinds, loc.Kind):
		return loc.Code + " is a " + string(loc.Kind) + "; " + string(p.Channel) + " serves " + kindList(p.EligibleKinds) + " locations only."
	case p.RequirePickup && !loc.Pickup:
		return loc.Code + " does not offer pickup, which " + string(p.Channel) + " requires."
	case p.RequireShipFromStore && loc.Kind == Store && !loc.ShipFromStore:
		return loc.Code + " does not ship from store, which " + string(p.Channel) + " requires."
	}
	return ""
}

func kindList(ks []LocationKind) string {
	s := ""
	for i, k := range ks {
		switch {
		case i == 0:
		case i == len(ks)-1:
			s += " or "
		default:
			s += ", "
		}
		s += string(k)
	}
	return s
}

// Label is the bucket's human name, for pages and confirmations.
func (b Bucket) Label() string {
	switch b {
	case OnHand:
		return "On hand"
	case Reserved:
		return "Reserved"
	case Damaged:
		return "Damaged"
	case QualityHold:
		return "Quality hold"
	case TransferOut:
		return "Transfer out"
	case InTransitIn:
		return "In transit in"
	}
	return string(b)
}
