package domain

import (
	"fmt"
	"testing"
	"time"
)

func TestReservationTransitionTable(t *testing.T) {
	allowed := map[[2]ReservationStatus]bool{
		{Held, Committed}: true, {Held, Released}: true, {Held, Expired}: true,
		{Committed, Fulfilled}: true, {Committed, Released}: true,
	}
	for _, from := range ReservationStatuses {
		for _, to := range ReservationStatuses {
			if got := CanTransition(from, to); got != allowed[[2]ReservationStatus{from, to}] {
				t.Errorf("%s → %s: got %v", from, to, got)
			}
		}
	}
	for _, s := range ReservationStatuses {
		if s.Active() != (s == Held || s == Committed) {
			t.Errorf("%s active = %v", s, s.Active())
		}
	}
}

func TestReservationMovements(t *testing.T) {
	cases := []struct {
		to     ReservationStatus
		want   Position
		reason Reason
	}{
		{Held, Position{Reserved: 3}, ReasonReservation},
		{Committed, Position{}, ""},
		{Fulfilled, Position{Reserved: -3, OnHand: -3}, ReasonFulfilled},
		{Released, Position{Reserved: -3}, ReasonRelease},
		{Expired, Position{Reserved: -3}, ReasonRelease},
	}
	for _, c := range cases {
		mv, why := ReservationMovements(c.to, 3)
		var got Position
		for _, m := range mv {
			got = got.Apply(m.Bucket, m.Delta)
		}
		if got != c.want || why != c.reason {
			t.Errorf("%s: %+v %s, want %+v %s", c.to, got, why, c.want, c.reason)
		}
	}
}

func TestReservationRequestValidate(t *testing.T) {
	line := []ReservationLineRequest{{SKU: "A", Qty: 1}}
	cases := []struct {
		name  string
		req   ReservationRequest
		field string
	}{
		{"ok bopis", ReservationRequest{Channel: BOPIS, Location: "S01", Lines: line}, ""},
		{"ok ship without location", ReservationRequest{Channel: EcommerceShip, Lines: line}, ""},
		{"bad channel", ReservationRequest{Channel: "fax", Lines: line}, "channel"},
		{"bopis needs location", ReservationRequest{Channel: BOPIS, Lines: line}, "location"},
		{"no lines", ReservationRequest{Channel: EcommerceShip}, "lines"},
		{"no sku", ReservationRequest{Channel: EcommerceShip, Lines: []ReservationLineRequest{{Qty: 1}}}, "lines[0].sku"},
		{"zero qty", ReservationRequest{Channel: EcommerceShip, Lines: []ReservationLineRequest{{SKU: "A", Qty: 0}}}, "lines[0].qty"},
		{"negative qty", ReservationRequest{Channel: EcommerceShip, Lines: []ReservationLineRequest{{SKU: "A", Qty: -2}}}, "lines[0].qty"},
		{"absurd qty", ReservationRequest{Channel: EcommerceShip, Lines: []ReservationLineRequest{{SKU: "A", Qty: MaxReservationQty + 1}}}, "lines[0].qty"},
		{"sku twice", ReservationRequest{Channel: EcommerceShip, Lines: []ReservationLineRequest{{SKU: "A", Qty: 1}, {SKU: "A", Qty: 2}}}, "lines[1].sku"},
		{"long ref", ReservationRequest{Channel: EcommerceShip, CheckoutRef: string(make([]byte, MaxRefLength+1)), Lines: line}, "checkout_ref"},
	}
	for _, c := range cases {
		err := c.req.Validate()
		got := ""
		if e := AsError(err); e != nil {
			got = e.Field
		} else if err != nil {
			got = "?"
		}
		if got != c.field {
			t.Errorf("%s: field %q, want %q (%v)", c.name, got, c.field, err)
		}
	}
}

func TestExpiries(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	bopis := Policy{Channel: BOPIS, HoldTTL: 20 * time.Minute, PickupWindow: 72 * time.Hour}
	ship := Policy{Channel: ShipFromStore, HoldTTL: 24 * time.Hour}
	if got := HoldExpiry(bopis, now); !got.Equal(now.Add(20 * time.Minute)) {
		t.Errorf("hold expiry %v", got)
	}
	if got := CommitExpiry(bopis, now, now.Add(10*time.Minute)); !got.Equal(now.Add(72 * time.Hour)) {
		t.Errorf("bopis commit holds to the end of the pickup window: %v", got)
	}
	if got := CommitExpiry(ship, now, now.Add(30*time.Hour)); !got.Equal(now.Add(30 * time.Hour)) {
		t.Errorf("commit never shortens a hold: %v", got)
	}
}

func TestReservable(t *testing.T) {
	store := Location{Code: "S01", Kind: Store, Pickup: true}
	p := Policy{Channel: BOPIS, EligibleKinds: []LocationKind{Store}, RequirePickup: true, SafetyStock: 1}
	cases := []struct {
		pos  Position
		p    Policy
		loc  Location
		want int
	}{
		{Position{OnHand: 10}, p, store, 9},
		{Position{OnHand: 10, Reserved: 3, Damaged: 1, QualityHold: 1, TransferOut: 1}, p, store, 3},
		{Position{OnHand: 1}, p, store, 0},
		{Position{OnHand: -4}, p, store, 0},
		{Position{OnHand: 10}, p, Location{Code: "S06", Kind: Store}, 0}, // no pickup: not eligible
		// Promised incoming stock counts for ATP, but a hold never takes
		// more than is on hand and unreserved.
		{Position{OnHand: 2, InTransitIn: 10}, Policy{Channel: BOPIS, EligibleKinds: []LocationKind{Store}, PromiseIncomingStock: true}, store, 2},
	}
	for i, c := range cases {
		if got := Reservable(c.p, c.loc, c.pos); got != c.want {
			t.Errorf("case %d: %d, want %d", i, got, c.want)
		}
	}
}

func TestSource(t *testing.T) {
	dc := Location{ID: 1, Code: "DC1", Kind: DC}
	wh := Location{ID: 2, Code: "WH1", Kind: Warehouse}
	s1 := Location{ID: 3, Code: "S01", Kind: Store}
	s2 := Location{ID: 4, Code: "S02", Kind: Store}
	s3 := Location{ID: 5, Code: "S03", Kind: Store}
	split := Policy{AllowSplit: true, MaxSplit: 2}
	noSplit := Policy{MaxSplit: 1}
	st := func(pairs ...any) []SourceStock {
		var out []SourceStock
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, SourceStock{Location: pairs[i].(Location), Reservable: pairs[i+1].(int)})
		}
		return out
	}
	ln := func(q ...int) []ReservationLineRequest {
		var out []ReservationLineRequest
		for i, n := range q {
			out = append(out, ReservationLineRequest{SKU: fmt.Sprint("SKU", i), Qty: n})
		}
		return out
	}
	type want struct{ loc, line, qty int } // loc is the Location.ID
	cases := []struct {
		name  string
		p     Policy
		lines []ReservationLineRequest
		cands [][]SourceStock
		want  []want
		short []int // available per line when insufficient
	}{
		{"DC before store when both fill", split, ln(2), [][]SourceStock{st(s1, 50, dc, 2)}, []want{{1, 0, 2}}, nil},
		{"warehouse before store", split, ln(2), [][]SourceStock{st(s1, 50, wh, 3)}, []want{{2, 0, 2}}, nil},
		{"most units among stores", split, ln(2), [][]SourceStock{st(s1, 5, s2, 9, s3, 9)}, []want{{4, 0, 2}}, nil},
		{"one location for every line wins over a better single line", split, ln(2, 2),
			[][]SourceStock{st(dc, 9, s1, 2), st(dc, 0, s1, 2)}, []want{{3, 0, 2}, {3, 1, 2}}, nil},
		{"filling the whole line beats kind", split, ln(5), [][]SourceStock{st(dc, 3, s1, 5)}, []want{{3, 0, 5}}, nil},
		{"split across two, biggest first", split, ln(7), [][]SourceStock{st(s1, 3, s2, 4, s3, 2)}, []want{{4, 0, 4}, {3, 0, 3}}, nil},
		{"split limit", split, ln(8), [][]SourceStock{st(s1, 3, s2, 4, s3, 2)}, nil, []int{7}},
		{"lines reuse a location already used", split, ln(4, 1),
			[][]SourceStock{st(s1, 3, s2, 1), st(s2, 5, s3, 9)}, []want{{3, 0, 3}, {4, 0, 1}, {4, 1, 1}}, nil},
		{"no split: every line reports its best location", noSplit, ln(2, 2),
			[][]SourceStock{st(s1, 2, s2, 0), st(s1, 0, s2, 5)}, nil, []int{2, 5}},
		{"nothing eligible", split, ln(1), [][]SourceStock{nil}, nil, []int{0}},
	}
	for _, c := range cases {
		got, err := Source(c.p, c.lines, c.cands)
		if c.short != nil {
			e := AsError(err)
			if e == nil || e.Code != CodeInsufficientStock { // its 409 is asserted in handlers (TestStatusForEveryCode)
				t.Errorf("%s: want insufficient_stock, got %v %+v", c.name, err, got)
				continue
			}
			sl := e.Details["lines"].([]ShortLine)
			for i, n := range c.short {
				if sl[i].Available != n || sl[i].Requested != c.lines[i].Qty {
					t.Errorf("%s: line %d %+v, want available %d", c.name, i, sl[i], n)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %+v", c.name, got)
			continue
		}
		for i, w := range c.want {
			if got[i].Location.ID != int64(w.loc) || got[i].Line != w.line || got[i].Qty != w.qty {
				t.Errorf("%s: allocation %d = %s line %d qty %d, want loc %d line %d qty %d", c.name, i, got[i].Location.Code, got[i].Line, got[i].Qty, w.loc, w.line, w.qty)
			}
		}
	}
}
