package domain

import (
	"strings"
	"testing"
)

func TestDispositionSteps(t *testing.T) {
	cases := []struct {
		d    Disposition
		want Position
		atp  int
	}{
		{DispositionRestock, Position{OnHand: 2}, 2},
		{DispositionDamaged, Position{OnHand: 2, Damaged: 2}, 0},
		{DispositionQualityHold, Position{OnHand: 2, QualityHold: 2}, 0},
		{DispositionReturnToVendor, Position{}, 0},
		{DispositionDestroy, Position{}, 0},
	}
	for _, c := range cases {
		steps := DispositionSteps(c.d, 2)
		if len(steps) == 0 {
			t.Fatalf("%s: no steps", c.d)
		}
		got := apply(Position{}, steps)
		if got != c.want || ATP(got, 0) != c.atp {
			t.Errorf("%s: %+v atp %d, want %+v atp %d", c.d, got, ATP(got, 0), c.want, c.atp)
		}
		if len(got.Violations()) > 0 {
			t.Errorf("%s leaves %v", c.d, got.Violations())
		}
	}
	if r := DispositionSteps(DispositionRestock, 1)[0].Reason; r != ReasonReturnRestock {
		t.Errorf("restock reason %s", r)
	}
	if r := DispositionSteps(DispositionDamaged, 1)[0].Reason; r != ReasonReturnDamaged {
		t.Errorf("damaged reason %s", r)
	}
	held := apply(Position{}, DispositionSteps(DispositionQualityHold, 3))
	held = apply(held, ReleaseSteps(false, 1))
	held = apply(held, ReleaseSteps(true, 1))
	if held != (Position{OnHand: 3, QualityHold: 1, Damaged: 1}) || ATP(held, 0) != 1 {
		t.Errorf("release: %+v", held)
	}
}

func TestReturnableAndValidate(t *testing.T) {
	l := LineQty{Qty: 3, Shipped: 2, Cancelled: 1}
	if Returnable(l) != 2 {
		t.Fatal(Returnable(l))
	}
	c, err := l.Apply(LineReturn, 2)
	if err != nil || Returnable(c.After) != 0 {
		t.Fatal(err, c.After)
	}
	e := ExceedsFulfilled(0, "A", 3, 2)
	if e.Code != CodeExceedsFulfilled || e.Field != "lines[0].qty" {
		t.Fatal(e)
	}
	n := NewReturn{OrderID: 1, Location: "S01", Lines: []ReturnLineInput{{SKU: "A", Qty: 1, Disposition: "restock"}}}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	n.Lines[0].Disposition = "keep"
	if e := AsError(n.Validate()); e == nil || e.Field != "lines[0].disposition" {
		t.Fatal(e)
	}
	n.Lines[0].Disposition, n.Lines[0].Reason = "destroy", strings.Repeat("x", MaxReasonLength+1)
	if e := AsError(n.Validate()); e == nil || e.Field != "lines[0].reason" {
		t.Fatal(e)
	}
	p := NewReturn{OrderID: 1, Pending: true, Lines: []ReturnLineInput{{SKU: "A", Qty: 1, Disposition: ""}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPlanReturnAndShipment(t *testing.T) {
	lines := []OrderLine{
		{ID: 1, SKU: "A", Location: "S01", LineQty: LineQty{Qty: 2, Shipped: 2}},
		{ID: 2, SKU: "A", Location: "S02", LineQty: LineQty{Qty: 3, Shipped: 1, Returned: 1, Reserved: 1}},
		{ID: 3, SKU: "B", Location: "S01", LineQty: LineQty{Qty: 1, Reserved: 1}},
	}
	parts, err := PlanReturn(lines, []ReturnLineInput{{SKU: "A", Qty: 2, Disposition: "restock"}, {SKU: "A", Qty: 1, Disposition: "destroy", Reason: " mould "}}, false)
	if err != nil || len(parts) != 2 || parts[0] != (ReturnPart{Line: 0, Qty: 2, Disposition: DispositionRestock}) || parts[1] != (ReturnPart{Line: 1, Qty: 1, Disposition: DispositionDestroy, Reason: "mould"}) {
		t.Fatalf("return plan %+v %v", parts, err)
	}
	if _, err := PlanReturn(lines, []ReturnLineInput{{SKU: "A", Qty: 2, Disposition: "restock"}, {SKU: "A", Qty: 2, Disposition: "damaged"}}, false); AsError(err).Field != "lines[1].qty" || AsError(err).Code != CodeExceedsFulfilled {
		t.Fatalf("cumulative excess: %v", err)
	}
	if _, err := PlanReturn(lines, []ReturnLineInput{{SKU: "Z", Qty: 1, Disposition: "restock"}}, false); AsError(err).Field != "lines[0].sku" {
		t.Fatalf("unknown SKU: %v", err)
	}
	if _, err := PlanReturn(lines, []ReturnLineInput{{SKU: "B", Qty: 1, Disposition: "restock"}}, false); AsError(err).Code != CodeExceedsFulfilled {
		t.Fatalf("undelivered line: %v", err)
	}
	o := Order{Number: "SL-1", Lines: lines}
	ship, err := PlanShipment(o, "S01", []OrderLineInput{{SKU: "B", Qty: 1}})
	if err != nil || len(ship) != 1 || ship[0] != (ShipPart{3, 1}) {
		t.Fatalf("ship plan %+v %v", ship, err)
	}
	for _, c := range []struct {
		in    []OrderLineInput
		field string
	}{
		{[]OrderLineInput{{SKU: "A", Qty: 1}}, "lines[0].qty"}, // nothing of A held at S01
		{[]OrderLineInput{{SKU: "B", Qty: 0}}, "lines[0].qty"},
		{[]OrderLineInput{{SKU: "B", Qty: 1}, {SKU: "C", Qty: 1}}, "lines[1].sku"},
		{nil, "lines"},
	} {
		if _, err := PlanShipment(o, "S01", c.in); AsError(err) == nil || AsError(err).Field != c.field {
			t.Errorf("%+v: %v, want field %s", c.in, err, c.field)
		}
	}
}

func TestExchangeValidateAndOrder(t *testing.T) {
	line := func(sku string, qty int) OrderLineInput { return OrderLineInput{SKU: sku, Qty: qty} }
	cases := []struct {
		x     NewExchange
		field string
	}{
		{NewExchange{Lines: []OrderLineInput{line("A", 1), line("B", 10_000)}}, ""},
		{NewExchange{}, "exchange.lines"},
		{NewExchange{Lines: []OrderLineInput{line(" ", 1)}}, "exchange.lines[0].sku"},
		{NewExchange{Lines: []OrderLineInput{line("A", 1), line(" A", 1)}}, "exchange.lines[1].sku"},
		{NewExchange{Lines: []OrderLineInput{line("A", 0)}}, "exchange.lines[0].qty"},
		{NewExchange{Lines: []OrderLineInput{line("A", 10_001)}}, "exchange.lines[0].qty"},
	}
	for _, c := range cases {
		err := c.x.Validate()
		if got := ""; err != nil {
			got = AsError(err).Field
			if got != c.field || AsError(err).Code != CodeUnprocessable {
				t.Errorf("%+v: %v, want 422 on %q", c.x, err, c.field)
			}
		} else if c.field != "" {
			t.Errorf("%+v: accepted, want 422 on %q", c.x, c.field)
		}
	}
	both := NewReturn{OrderID: 1, Location: "S01", Lines: []ReturnLineInput{{SKU: "A", Qty: 1, Disposition: "restock"}},
		ExchangeOrder: new(int64), Exchange: &cases[0].x}
	if e := AsError(both.Validate()); e == nil || e.Field != "exchange" {
		t.Errorf("an exchange order and replacement lines together: %v", e)
	}
	o := ExchangeOrder(NewExchange{Lines: []OrderLineInput{line(" A ", 2)}}, Order{Number: "SL-1", CustomerEmail: "c@example.com"}, "S01", "stockline")
	if o.Channel != BOPIS || o.PickupLocation != "S01" || o.Customer.Email != "c@example.com" || o.Lines[0].SKU != "A" || o.Validate() != nil {
		t.Errorf("exchange order %+v: %v", o, o.Validate())
	}
	if anon := ExchangeOrder(NewExchange{Lines: []OrderLineInput{line("A", 1)}}, Order{Number: "SL-2"}, "S01", "api"); anon.Customer.Name != "Customer of SL-2" {
		t.Errorf("an order without customer details: %+v", anon.Customer)
	}
	if e := AsError(ExchangeField(&Error{Code: ENOTFOUND, Field: "lines[1].sku", Message: "no"})); e.Field != "exchange.lines[1].sku" || e.Code != CodeUnprocessable {
		t.Errorf("ExchangeField: %+v", e)
	}
}
