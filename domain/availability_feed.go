package domain

import "time"

// Availability feed defaults (FEED_IN_STOCK_MIN, FEED_LOW_STOCK).
const (
	DefaultFeedInStockMin = 1 // in_stock when network ATP is at least this
	DefaultFeedLowStock   = 3 // Google's limited_availability below this (and above 0)
)

// FeedInStock is the availability feed's in_stock flag: ATP at least min.
func FeedInStock(atp, min int) bool { return atp >= min }

// Google local inventory availability values.
const (
	GoogleInStock             = "in_stock"
	GoogleLimitedAvailability = "limited_availability"
	GoogleOutOfStock          = "out_of_stock"
)

// GoogleAvailability is a store's availability value in Google's local
// inventory feed: out_of_stock at 0, limited_availability above 0 and
// below low, in_stock from low up.
func GoogleAvailability(atp, low int) string {
	switch {
	case atp <= 0:
		return GoogleOutOfStock
	case atp < low:
		return GoogleLimitedAvailability
	}
	return GoogleInStock
}

// GooglePickupMethod is buy for a store with pickup enabled, else
// not_supported.
func GooglePickupMethod(loc Location) string {
	if loc.Pickup {
		return "buy"
	}
	return "not_supported"
}

// GooglePickupSLA is the pickup_sla Google shows for the channel policy:
// same_day when the policy's pickup window is at most a day (24 hours),
// next_day when it is longer. The seeded bopis policy keeps orders 72 hours,
// so it advertises next_day.
func GooglePickupSLA(p Policy) string {
	if p.PickupWindow <= 24*time.Hour {
		return "same_day"
	}
	return "next_day"
}
