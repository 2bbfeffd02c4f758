package domain

import "testing"

func TestEligibilityText(t *testing.T) {
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{EligibleKinds: []LocationKind{DC, Warehouse}}, "dc or warehouse locations"},
		{Policy{EligibleKinds: []LocationKind{Store}, RequirePickup: true}, "store locations, pickup enabled"},
		{Policy{EligibleKinds: []LocationKind{Store, Warehouse, DC}, RequireShipFromStore: true}, "store, warehouse or dc locations, stores must ship-from-store"},
	}
	for _, tt := range tests {
		if got := tt.p.EligibilityText(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.p.EligibleKinds, got, tt.want)
		}
	}
}
