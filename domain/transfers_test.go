package domain

import (
	"testing"
)

func TestCheckTransferMoveTable(t *testing.T) {
	all := TransferStatuses
	allowed := map[[2]TransferStatus]bool{
		{TransferRequested, TransferApproved}:  true,
		{TransferRequested, TransferRejected}:  true,
		{TransferRequested, TransferCancelled}: true,
		{TransferApproved, TransferShipped}:    true,
		{TransferApproved, TransferCancelled}:  true,
		{TransferShipped, TransferReceived}:    true,
	}
	for _, from := range all {
		for _, to := range all {
			err := CheckTransferMove(from, to)
			if allowed[[2]TransferStatus{from, to}] != (err == nil) {
				t.Errorf("%s → %s: err %v, want allowed=%v", from, to, err, allowed[[2]TransferStatus{from, to}])
			}
		}
	}
	codes := []struct {
		from, to TransferStatus
		code     string
	}{
		{TransferRequested, TransferShipped, CodeNotApproved},
		{TransferRejected, TransferShipped, CodeNotApproved},
		{TransferShipped, TransferCancelled, CodeAlreadyShipped},
		{TransferReceived, TransferCancelled, CodeAlreadyShipped},
		{TransferReceived, TransferApproved, ECONFLICT},
		{TransferRejected, TransferApproved, ECONFLICT},
	}
	for _, c := range codes {
		err := AsError(CheckTransferMove(c.from, c.to))
		if err == nil || err.Code != c.code || false {
			t.Errorf("%s → %s: %v, want %s", c.from, c.to, err, c.code)
		}
	}
}

func apply(p Position, steps []Step) Position {
	for _, s := range steps {
		for _, m := range s.Moves {
			p = p.Apply(m.Bucket, m.Delta)
		}
	}
	return p
}

func TestTransferStepsMoveBuckets(t *testing.T) {
	origin := Position{OnHand: 10}
	dest := Position{}
	origin = apply(origin, ApproveSteps(6))
	if origin.TransferOut != 6 || ATP(origin, 0) != 4 {
		t.Fatalf("after approval %+v", origin)
	}
	o, d := ShipSteps(6, 5)
	origin, dest = apply(origin, o), apply(dest, d)
	if origin != (Position{OnHand: 5}) || dest != (Position{InTransitIn: 5}) {
		t.Fatalf("after ship origin %+v dest %+v", origin, dest)
	}
	l := TransferLine{Requested: 6, Approved: 6, Shipped: 5}
	dest = apply(dest, ReceiveSteps(l, 3, 1))
	if dest != (Position{OnHand: 3, Damaged: 1, InTransitIn: 2}) || ATP(dest, 0) != 2 {
		t.Fatalf("after partial receipt %+v", dest)
	}
	l.Received, l.Damaged = 3, 1
	if l.Outstanding() != 2 || l.Variance() != -2 {
		t.Fatalf("line %+v outstanding %d variance %d", l, l.Outstanding(), l.Variance())
	}
	dest = apply(dest, LostSteps(2))
	if dest != (Position{OnHand: 3, Damaged: 1}) {
		t.Fatalf("after lost %+v", dest)
	}
	// Over-receipt: more than outstanding arrives; in_transit never goes negative.
	over := apply(Position{InTransitIn: 2}, ReceiveSteps(TransferLine{Shipped: 2}, 3, 0))
	if over != (Position{OnHand: 3}) {
		t.Fatalf("over-receipt %+v", over)
	}
	if got := apply(Position{OnHand: 4, TransferOut: 4}, CancelSteps(4)); got != (Position{OnHand: 4}) {
		t.Fatalf("cancel %+v", got)
	}
}

func TestNewTransferValidate(t *testing.T) {
	ok := NewTransfer{From: "DC1", To: "S03", Lines: []TransferLineInput{{"A", 2}}, NeededBy: "2026-12-24"}
	if d, err := ok.Validate(); err != nil || d == nil {
		t.Fatalf("valid: %v %v", d, err)
	}
	cases := []struct {
		mut   func(*NewTransfer)
		field string
	}{
		{func(n *NewTransfer) { n.To = "DC1" }, "to"},
		{func(n *NewTransfer) { n.Lines[0].Qty = 0 }, "lines[0].qty"},
		{func(n *NewTransfer) { n.Lines[0].Qty = -3 }, "lines[0].qty"},
		{func(n *NewTransfer) { n.Lines = nil }, "lines"},
		{func(n *NewTransfer) { n.NeededBy = "soon" }, "needed_by"},
		{func(n *NewTransfer) { n.From = "" }, "from"},
	}
	for _, c := range cases {
		n := ok
		n.Lines = append([]TransferLineInput(nil), ok.Lines...)
		c.mut(&n)
		_, err := n.Validate()
		e := AsError(err)
		if e == nil || e.Field != c.field || e.Code != CodeUnprocessable {
			t.Errorf("want 422 on %s, got %v", c.field, err)
		}
	}
}

func TestApprovalRuleMatches(t *testing.T) {
	n1 := Location{Code: "S01", Region: "North"}
	n2 := Location{Code: "S02", Region: "North"}
	s7 := Location{Code: "S07", Region: "South"}
	r := ApprovalRule{Enabled: true, SameRegion: true, MaxUnits: 10, MaxValueCents: 50000}
	cases := []struct {
		to    Location
		units int
		value int64
		rule  ApprovalRule
		want  bool
	}{
		{n2, 9, 49999, r, true},
		{n2, 10, 100, r, false},
		{n2, 1, 50000, r, false},
		{s7, 1, 100, r, false},
		{s7, 1, 100, ApprovalRule{Enabled: true, MaxUnits: 10, MaxValueCents: 50000}, true},
		{n2, 1, 100, ApprovalRule{Enabled: false, MaxUnits: 10, MaxValueCents: 50000}, false},
	}
	for i, c := range cases {
		if got := c.rule.Matches(n1, c.to, c.units, c.value); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

func TestMayApprove(t *testing.T) {
	mgr := &User{Role: RoleManager, Locations: []string{"S01"}}
	assoc := &User{Role: RoleAssociate, Locations: []string{"S01"}}
	if !MayApprove(mgr, "S01") || MayApprove(mgr, "S07") || MayApprove(assoc, "S01") || !MayApprove(&User{Role: RoleAdmin}, "S07") {
		t.Fatal("approval scope wrong")
	}
}

// TestValidateReceipt: each line in bounds, and one SKU's lines together
// too (2,200 lines of 1,000,000 would overflow PostgreSQL's integer).
func TestValidateReceipt(t *testing.T) {
	many := make([]ReceiptLine, 2200)
	for i := range many {
		many[i] = ReceiptLine{SKU: "A", Qty: MaxQuantity}
	}
	for _, c := range []struct {
		name  string
		lines []ReceiptLine
		field string // "" when valid
	}{
		{"empty", nil, ""},
		{"one line", []ReceiptLine{{SKU: "A", Qty: 3, Damaged: 1}}, ""},
		{"two SKUs at the limit", []ReceiptLine{{SKU: "A", Qty: MaxQuantity}, {SKU: "B", Qty: MaxQuantity}}, ""},
		{"negative", []ReceiptLine{{SKU: "A", Qty: -1}}, "lines[0].qty"},
		{"damaged past qty", []ReceiptLine{{SKU: "A", Qty: 1, Damaged: 2}}, "lines[0].damaged"},
		{"one SKU past the limit over two lines", []ReceiptLine{{SKU: "A", Qty: MaxQuantity}, {SKU: "A", Qty: 1}}, "lines[1].qty"},
		{"2,200 lines of the limit", many, "lines[1].qty"},
	} {
		err := ValidateReceipt(c.lines)
		if got := ""; err != nil {
			if e := AsError(err); e != nil {
				got = e.Field
			}
			if got != c.field {
				t.Errorf("%s: field %q (%v), want %q", c.name, got, err, c.field)
			}
		} else if c.field != "" {
			t.Errorf("%s: accepted, want refused on %s", c.name, c.field)
		}
	}
}
