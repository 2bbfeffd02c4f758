package domain

import (
	"testing"
	"time"
)

func TestGoogleLocalValues(t *testing.T) {
	for _, c := range []struct {
		atp, low int
		want     string
	}{{-2, 3, GoogleOutOfStock}, {0, 3, GoogleOutOfStock}, {1, 3, GoogleLimitedAvailability}, {2, 3, GoogleLimitedAvailability},
		{3, 3, GoogleInStock}, {40, 3, GoogleInStock}, {1, 1, GoogleInStock}} {
		if got := GoogleAvailability(c.atp, c.low); got != c.want {
			t.Errorf("GoogleAvailability(%d, %d) = %s, want %s", c.atp, c.low, got, c.want)
		}
	}
	if GooglePickupMethod(Location{Pickup: true}) != "buy" || GooglePickupMethod(Location{}) != "not_supported" {
		t.Error("pickup_method: buy with pickup, not_supported without")
	}
	for _, c := range []struct {
		window time.Duration
		want   string
	}{{4 * time.Hour, "same_day"}, {24 * time.Hour, "same_day"}, {25 * time.Hour, "next_day"}, {72 * time.Hour, "next_day"}} {
		if got := GooglePickupSLA(Policy{PickupWindow: c.window}); got != c.want {
			t.Errorf("GooglePickupSLA(%s) = %s, want %s", c.window, got, c.want)
		}
	}
	for _, c := range []struct {
		atp, min int
		want     bool
	}{{0, 1, false}, {1, 1, true}, {4, 5, false}, {5, 5, true}} {
		if FeedInStock(c.atp, c.min) != c.want {
			t.Errorf("FeedInStock(%d, %d) != %t", c.atp, c.min, c.want)
		}
	}
}
