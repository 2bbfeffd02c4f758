package domain

import (
	"fmt"
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
	case !slices.Contains(p.EligibleKinds, loc.Kind):
		return fmt.Sprintf("%s is a %s; %s serves %s locations only.", loc.Code, loc.Kind, p.Channel, kindList(p.EligibleKinds))
	case p.RequirePickup && !loc.Pickup:
		return fmt.Sprintf("%s does not offer pickup, which %s requires.", loc.Code, p.Channel)
	case p.RequireShipFromStore && loc.Kind == Store && !loc.ShipFromStore:
		return fmt.Sprintf("%s does not ship from store, which %s requires.", loc.Code, p.Channel)
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
