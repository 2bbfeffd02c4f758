package domain_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"stockline/domain"
	"stockline/store"
)

func TestATPEveryBucket(t *testing.T) {
	base := domain.Position{OnHand: 20}
	tests := []struct {
		name   string
		pos    domain.Position
		safety int
		want   int
	}{
		{"on_hand only", base, 0, 20},
		{"reserved subtracts", base.Apply(domain.Reserved, 3), 0, 17},
		{"damaged subtracts", base.Apply(domain.Damaged, 2), 0, 18},
		{"quality_hold subtracts", base.Apply(domain.QualityHold, 4), 0, 16},
		{"transfer_out subtracts", base.Apply(domain.TransferOut, 5), 0, 15},
		{"in_transit_in is never promised", base.Apply(domain.InTransitIn, 9), 0, 20},
		{"safety stock subtracts", base, 3, 17},
		{"every bucket at once", domain.Position{OnHand: 20, Reserved: 3, Damaged: 2, QualityHold: 1, TransferOut: 4, InTransitIn: 7}, 2, 8},
		{"exactly zero", domain.Position{OnHand: 5, Reserved: 5}, 0, 0},
		{"never below zero", domain.Position{OnHand: 2, Reserved: 1, Damaged: 1}, 5, 0},
		{"negative on_hand floors at zero", domain.Position{OnHand: -3}, 0, 0},
		{"empty position", domain.Position{}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.ATP(tc.pos, tc.safety); got != tc.want {
				t.Fatalf("ATP(%+v, %d) = %d, want %d", tc.pos, tc.safety, got, tc.want)
			}
		})
	}
	// Each spoken-for bucket lowers ATP one for one; in_transit_in does not.
	for _, b := range domain.Buckets {
		got := domain.ATP(base.Apply(b, 1), 0)
		want := 19
		switch b {
		case domain.OnHand:
			want = 21
		case domain.InTransitIn:
			want = 20
		}
		if got != want {
			t.Errorf("one unit more in %s: ATP %d, want %d", b, got, want)
		}
	}
}

// demoLikeLocations covers every eligibility case the seeded policies
// distinguish: a DC, a warehouse, and stores with and without pickup and
// ship-from-store.
var demoLikeLocations = []domain.Location{
	{Code: "DC1", Kind: domain.DC},
	{Code: "S01", Kind: domain.Store, Pickup: true, ShipFromStore: true},
	{Code: "S03", Kind: domain.Store, Pickup: true},
	{Code: "S06", Kind: domain.Store},
	{Code: "W1", Kind: domain.Warehouse},
}

func TestChannelAvailabilityForEverySeededPolicy(t *testing.T) {
	// ATP before safety stock is 20-3-2-1-4 = 10 at every location.
	pos := domain.Position{OnHand: 20, Reserved: 3, Damaged: 2, QualityHold: 1, TransferOut: 4, InTransitIn: 7}
	stock := make([]domain.LocationStock, len(demoLikeLocations))
	for i, l := range demoLikeLocations {
		stock[i] = domain.LocationStock{Location: l, Position: pos}
	}
	tests := []struct {
		channel  domain.Channel
		eligible []string
		atp      int // at each eligible location
	}{
		{domain.BOPIS, []string{"S01", "S03"}, 9},                // stores with pickup, safety 1
		{domain.EcommerceShip, []string{"DC1", "W1"}, 10},        // DC and warehouses, safety 0
		{domain.ShipFromStore, []string{"S01"}, 8},               // stores that ship, safety 2
		{domain.Marketplace, []string{"DC1"}, 7},                 // the DC, safety 3
		{domain.LocalDelivery, []string{"S01", "S03", "S06"}, 9}, // every store, safety 1
	}
	policies := map[domain.Channel]domain.Policy{}
	for _, p := range store.DefaultPolicies() {
		if err := p.Validate(); err != nil {
			t.Fatalf("seeded policy %s is invalid: %v", p.Channel, err)
		}
		policies[p.Channel] = p
	}
	if len(policies) != len(domain.Channels) || len(tests) != len(domain.Channels) {
		t.Fatalf("want a seeded policy and a test case for each of %v", domain.Channels)
	}
	for _, tc := range tests {
		t.Run(string(tc.channel), func(t *testing.T) {
			p, ok := policies[tc.channel]
			if !ok {
				t.Fatalf("no seeded policy for %s", tc.channel)
			}
			a := domain.ChannelAvailability(p, stock)
			if a.Channel != tc.channel || len(a.Locations) != len(stock) {
				t.Fatalf("availability = %+v", a)
			}
			for _, la := range a.Locations {
				want := slices.Contains(tc.eligible, la.Code)
				if la.Eligible != want || p.Eligible(la.Location) != want {
					t.Errorf("%s eligible = %v, want %v", la.Code, la.Eligible, want)
				}
				if la.SafetyStock != p.SafetyStock {
					t.Errorf("%s safety stock = %d, want the policy's %d", la.Code, la.SafetyStock, p.SafetyStock)
				}
				switch {
				case want && (la.ATP != tc.atp || la.WhyNot != ""):
					t.Errorf("%s: ATP %d (why not %q), want %d", la.Code, la.ATP, la.WhyNot, tc.atp)
				case !want && (la.ATP != 0 || la.WhyNot == ""):
					t.Errorf("%s: ineligible should have ATP 0 and a reason, got %d %q", la.Code, la.ATP, la.WhyNot)
				}
				if got := p.LocationATP(la.Location, la.Position); got != la.ATP {
					t.Errorf("%s: LocationATP %d disagrees with ChannelAvailability %d", la.Code, got, la.ATP)
				}
			}
			if want := tc.atp * len(tc.eligible); a.NetworkATP != want {
				t.Errorf("network ATP = %d, want %d", a.NetworkATP, want)
			}
			locs := make([]domain.Location, len(stock))
			poss := make([]domain.Position, len(stock))
			for i := range stock {
				locs[i], poss[i] = stock[i].Location, stock[i].Position
			}
			if got := p.NetworkATP(locs, poss); got != a.NetworkATP {
				t.Errorf("Policy.NetworkATP %d disagrees with ChannelAvailability %d", got, a.NetworkATP)
			}
		})
	}
}

func TestChannelAvailabilityEdges(t *testing.T) {
	p := domain.Policy{Channel: domain.BOPIS, EligibleKinds: []domain.LocationKind{domain.Store}, RequirePickup: true, SafetyStock: 2}
	stock := []domain.LocationStock{
		{Location: domain.Location{Code: "S01", Kind: domain.Store, Pickup: true}, Position: domain.Position{OnHand: 1}},
		{Location: domain.Location{Code: "S02", Kind: domain.Store, Pickup: true}, Position: domain.Position{OnHand: 10, Reserved: 4, InTransitIn: 5}},
		{Location: domain.Location{Code: "S06", Kind: domain.Store}, Position: domain.Position{OnHand: 50}},
		{Location: domain.Location{Code: "DC1", Kind: domain.DC}, Position: domain.Position{OnHand: 500}},
	}
	a := domain.ChannelAvailability(p, stock)
	got := []int{a.Locations[0].ATP, a.Locations[1].ATP, a.Locations[2].ATP, a.Locations[3].ATP}
	if !reflect.DeepEqual(got, []int{0, 4, 0, 0}) || a.NetworkATP != 4 {
		t.Fatalf("ATP per location %v, network %d; want [0 4 0 0], 4", got, a.NetworkATP)
	}
	if w := a.Locations[2].WhyNot; w != "S06 does not offer pickup, which bopis requires." {
		t.Errorf("why not S06: %q", w)
	}
	if w := a.Locations[3].WhyNot; w != "DC1 is a dc; bopis serves store locations only." {
		t.Errorf("why not DC1: %q", w)
	}
	// A policy that promises incoming stock counts in_transit_in.
	p.PromiseIncomingStock = true
	if a := domain.ChannelAvailability(p, stock); a.Locations[1].ATP != 9 || a.NetworkATP != 9 {
		t.Fatalf("promising incoming: S02 ATP %d, network %d; want 9, 9", a.Locations[1].ATP, a.NetworkATP)
	}
	if a := domain.ChannelAvailability(p, nil); a.NetworkATP != 0 || len(a.Locations) != 0 {
		t.Fatalf("no locations: %+v", a)
	}
	sfs := domain.Policy{Channel: domain.ShipFromStore, EligibleKinds: []domain.LocationKind{domain.Store, domain.DC}, RequireShipFromStore: true}
	if w := sfs.WhyNotEligible(domain.Location{Code: "S03", Kind: domain.Store}); w != "S03 does not ship from store, which ship_from_store requires." {
		t.Errorf("why not S03: %q", w)
	}
	if !sfs.Eligible(domain.Location{Code: "DC1", Kind: domain.DC}) {
		t.Error("the ship-from-store flag applies to stores only; a DC of an eligible kind is eligible")
	}
	if w := (domain.Policy{Channel: domain.EcommerceShip, EligibleKinds: []domain.LocationKind{domain.DC, domain.Warehouse}}).WhyNotEligible(domain.Location{Code: "S01", Kind: domain.Store}); w != "S01 is a store; ecommerce_ship serves dc or warehouse locations only." {
		t.Errorf("why not S01: %q", w)
	}
}

func ptr(n int) *int { return &n }

func TestAdjustmentMovementsForEveryReason(t *testing.T) {
	cur := domain.Position{OnHand: 10, Damaged: 2, QualityHold: 1}
	type mv = domain.Movement
	tests := []struct {
		name    string
		adj     domain.Adjustment
		want    []domain.Movement
		errFld  string // non-empty: want an EINVALID error on this field
		wantNil bool   // a count equal to on hand moves nothing
	}{
		{"cycle_count delta", domain.Adjustment{Reason: domain.ReasonCycleCount, Delta: ptr(3)}, []mv{{Bucket: domain.OnHand, Delta: 3}}, "", false},
		{"cycle_count counted lower", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(7)}, []mv{{Bucket: domain.OnHand, Delta: -3}}, "", false},
		{"cycle_count counted same", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(10)}, nil, "", true},
		{"cycle_count counted zero", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(0)}, []mv{{Bucket: domain.OnHand, Delta: -10}}, "", false},
		{"correction delta down", domain.Adjustment{Reason: domain.ReasonCorrection, Delta: ptr(-2)}, []mv{{Bucket: domain.OnHand, Delta: -2}}, "", false},
		{"correction counted higher", domain.Adjustment{Reason: domain.ReasonCorrection, Counted: ptr(12)}, []mv{{Bucket: domain.OnHand, Delta: 2}}, "", false},
		{"received", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(5)}, []mv{{Bucket: domain.OnHand, Delta: 5}}, "", false},
		{"damaged marks units", domain.Adjustment{Reason: domain.ReasonDamaged, Delta: ptr(2)}, []mv{{Bucket: domain.Damaged, Delta: 2}}, "", false},
		{"damaged negative un-marks", domain.Adjustment{Reason: domain.ReasonDamaged, Delta: ptr(-1)}, []mv{{Bucket: domain.Damaged, Delta: -1}}, "", false},
		{"shrinkage positive removes", domain.Adjustment{Reason: domain.ReasonShrinkage, Delta: ptr(3)}, []mv{{Bucket: domain.OnHand, Delta: -3}}, "", false},
		{"shrinkage negative removes too", domain.Adjustment{Reason: domain.ReasonShrinkage, Delta: ptr(-3)}, []mv{{Bucket: domain.OnHand, Delta: -3}}, "", false},
		{"return_restock", domain.Adjustment{Reason: domain.ReasonReturnRestock, Delta: ptr(1)}, []mv{{Bucket: domain.OnHand, Delta: 1}}, "", false},
		{"return_damaged", domain.Adjustment{Reason: domain.ReasonReturnDamaged, Delta: ptr(2)}, []mv{{Bucket: domain.OnHand, Delta: 2}, {Bucket: domain.Damaged, Delta: 2}}, "", false},
		{"quality_hold on", domain.Adjustment{Reason: domain.ReasonQualityHold, Delta: ptr(2)}, []mv{{Bucket: domain.QualityHold, Delta: 2}}, "", false},
		{"quality_hold release", domain.Adjustment{Reason: domain.ReasonQualityHold, Delta: ptr(-1)}, []mv{{Bucket: domain.QualityHold, Delta: -1}}, "", false},

		{"not an adjustment reason", domain.Adjustment{Reason: domain.ReasonSale, Delta: ptr(1)}, nil, "reason", false},
		{"empty reason", domain.Adjustment{Delta: ptr(1)}, nil, "reason", false},
		{"neither delta nor counted", domain.Adjustment{Reason: domain.ReasonCorrection}, nil, "delta", false},
		{"both delta and counted", domain.Adjustment{Reason: domain.ReasonCorrection, Delta: ptr(1), Counted: ptr(1)}, nil, "delta", false},
		{"zero delta", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(0)}, nil, "delta", false},
		{"absurd delta", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(domain.MaxQuantity + 1)}, nil, "delta", false},
		{"negative count", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(-1)}, nil, "counted", false},
		{"count with a non-count reason", domain.Adjustment{Reason: domain.ReasonReceived, Counted: ptr(4)}, nil, "counted", false},
		{"shrinkage below zero", domain.Adjustment{Reason: domain.ReasonShrinkage, Delta: ptr(11)}, nil, "delta", false},
		{"correction below zero", domain.Adjustment{Reason: domain.ReasonCorrection, Delta: ptr(-11)}, nil, "delta", false},
		{"un-damage more than damaged", domain.Adjustment{Reason: domain.ReasonDamaged, Delta: ptr(-3)}, nil, "delta", false},
		{"release more than held", domain.Adjustment{Reason: domain.ReasonQualityHold, Delta: ptr(-2)}, nil, "delta", false},
		{"damage more than on hand", domain.Adjustment{Reason: domain.ReasonDamaged, Delta: ptr(8)}, nil, "delta", false},
		{"note too long", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(1), Note: strings.Repeat("x", domain.MaxNoteLength+1)}, nil, "note", false},
		{"hold more than on hand", domain.Adjustment{Reason: domain.ReasonQualityHold, Delta: ptr(8)}, nil, "delta", false},
	}
	covered := map[domain.Reason]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.adj.Movements(cur)
			if tc.errFld != "" {
				e := domain.AsError(err)
				if e == nil || e.Code != domain.EINVALID || e.Field != tc.errFld {
					t.Fatalf("want invalid error on %s, got %v (moves %v)", tc.errFld, err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantNil && got != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("movements = %v, want %v", got, tc.want)
			}
			covered[tc.adj.Reason] = true
			next := cur
			for _, m := range got {
				next = next.Apply(m.Bucket, m.Delta)
			}
			if v := next.Violations(); len(v) > 0 {
				t.Fatalf("an accepted adjustment left %+v: %v", next, v)
			}
		})
	}
	for _, r := range domain.AdjustmentReasons {
		if !covered[r] {
			t.Errorf("no successful case for reason %s", r)
		}
		if domain.ReasonLabel(r) == string(r) {
			t.Errorf("reason %s has no human label", r)
		}
	}
}
