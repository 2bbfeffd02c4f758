package domain

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestPlanOrder(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	placed := now.Add(-30 * time.Minute)
	bopis := Policy{Channel: BOPIS, PickupWindow: 72 * time.Hour}
	ship := Policy{Channel: "ecommerce_ship"}
	lines := func(ls ...OrderLineInput) []OrderLineInput { return ls }
	held := func(res int64, lineNo int, sku, loc string, qty int) HeldLine {
		return HeldLine{ReservationID: res, Line: ReservationLine{LineNo: lineNo, SKU: sku, Location: loc, Qty: qty}}
	}
	at := func(t time.Time) *time.Time { return &t }
	type want struct {
		promised time.Time
		until    *time.Time
		lines    []string // "no sku qty@location" or "no sku qty pending"
		oversold []int
		hold     string
		payment  bool
	}
	tests := []struct {
		name string
		in   OrderPlanInput
		want want
	}{
		{"pickup, everything held at the store: ready 2 h after placing, window after that",
			OrderPlanInput{Order: NewOrder{Channel: BOPIS, PaymentStatus: PaymentCaptured, PlacedAt: placed,
				Lines: lines(OrderLineInput{"A", 2}, OrderLineInput{"B", 1})}, Policy: bopis, Now: now,
				Held: []HeldLine{held(7, 1, "A", "S01", 2), held(7, 2, "B", "S01", 1)}},
			want{promised: placed.Add(2 * time.Hour), until: at(placed.Add(74 * time.Hour)), lines: []string{"1 A 2@S01", "2 B 1@S01"}}},
		{"no placed time: placed now",
			OrderPlanInput{Order: NewOrder{Channel: "ecommerce_ship", Lines: lines(OrderLineInput{"A", 1})}, Policy: ship, Now: now,
				Held: []HeldLine{held(3, 1, "A", "DC1", 1)}},
			want{promised: now.Add(24 * time.Hour), lines: []string{"1 A 1@DC1"}}},
		{"ship, one line split over two locations becomes two lines, in request order",
			OrderPlanInput{Order: NewOrder{Channel: "ecommerce_ship", PlacedAt: placed,
				Lines: lines(OrderLineInput{"A", 5}, OrderLineInput{"B", 1})}, Policy: ship, Now: now,
				Held: []HeldLine{held(9, 1, "B", "DC1", 1), held(9, 2, "A", "DC1", 3), held(9, 3, "A", "S02", 2)}},
			want{promised: placed.Add(24 * time.Hour), lines: []string{"1 A 3@DC1", "2 A 2@S02", "3 B 1@DC1"}}},
		{"an unreservable line waits pending and puts the order on hold; authorised payment raises nothing",
			OrderPlanInput{Order: NewOrder{Channel: BOPIS, PaymentStatus: PaymentAuthorized, PlacedAt: placed,
				Lines: lines(OrderLineInput{"A", 2}, OrderLineInput{"B", 4})}, Policy: bopis, Now: now,
				Held: []HeldLine{held(4, 1, "A", "S01", 2)}, Short: []bool{false, true}},
			want{promised: placed.Add(2 * time.Hour), until: at(placed.Add(74 * time.Hour)), lines: []string{"1 A 2@S01", "2 B 4 pending"},
				oversold: []int{1}, hold: "oversell"}},
		{"captured payment with an unreservable line: payment before stock",
			OrderPlanInput{Order: NewOrder{Channel: "ecommerce_ship", PaymentStatus: PaymentCaptured, PlacedAt: placed,
				Lines: lines(OrderLineInput{"A", 2}, OrderLineInput{"B", 4})}, Policy: ship, Now: now,
				Short: []bool{true, true}},
			want{promised: placed.Add(24 * time.Hour), lines: []string{"1 A 2 pending", "2 B 4 pending"},
				oversold: []int{0, 1}, hold: "oversell", payment: true}},
		{"captured payment, everything held: no exception",
			OrderPlanInput{Order: NewOrder{Channel: "ecommerce_ship", PaymentStatus: PaymentCaptured, PlacedAt: placed,
				Lines: lines(OrderLineInput{"A", 1})}, Policy: ship, Now: now, Held: []HeldLine{held(5, 1, "A", "DC1", 1)}, Short: []bool{false}},
			want{promised: placed.Add(24 * time.Hour), lines: []string{"1 A 1@DC1"}}},
		{"a committed reservation's lines are the order's lines",
			OrderPlanInput{Order: NewOrder{Channel: BOPIS, ReservationID: 11, PlacedAt: placed,
				Lines: lines(OrderLineInput{"B", 1}, OrderLineInput{"A", 1})}, Policy: Policy{Channel: BOPIS}, Now: now,
				Held: []HeldLine{held(11, 1, "A", "S03", 1), held(11, 2, "B", "S03", 1)}},
			want{promised: placed.Add(2 * time.Hour), until: at(placed.Add(2 * time.Hour)), lines: []string{"1 B 1@S03", "2 A 1@S03"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanOrder(tc.in)
			var got []string
			for _, l := range p.Lines {
				s := formatPlanned(l)
				got = append(got, s)
				if l.Held != nil && (l.Held.Line.SKU != l.SKU || l.Qty != l.Held.Line.Qty) {
					t.Fatalf("line %d does not match its hold: %+v", l.LineNo, l)
				}
			}
			if wantF := FulfilmentFor(tc.in.Order.Channel); p.Fulfilment != wantF {
				t.Errorf("fulfilment %q, want %q", p.Fulfilment, wantF)
			}
			if !p.PromisedAt.Equal(tc.want.promised) {
				t.Errorf("promised %v, want %v", p.PromisedAt, tc.want.promised)
			}
			if (p.PickupUntil == nil) != (tc.want.until == nil) || p.PickupUntil != nil && !p.PickupUntil.Equal(*tc.want.until) {
				t.Errorf("pickup until %v, want %v", p.PickupUntil, tc.want.until)
			}
			if !reflect.DeepEqual(got, tc.want.lines) {
				t.Errorf("lines %q, want %q", got, tc.want.lines)
			}
			if !reflect.DeepEqual(p.Oversold, tc.want.oversold) || p.Hold != tc.want.hold || p.PaymentBeforeStock != tc.want.payment {
				t.Errorf("oversold %v hold %q payment_before_stock %v, want %v %q %v", p.Oversold, p.Hold, p.PaymentBeforeStock,
					tc.want.oversold, tc.want.hold, tc.want.payment)
			}
		})
	}
}

func formatPlanned(l PlannedLine) string {
	s := fmt.Sprintf("%d %s %d", l.LineNo, l.SKU, l.Qty)
	if l.Held == nil {
		return s + " pending"
	}
	return s + "@" + l.Held.Line.Location
}
