package domain

import "testing"

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
	n := NewReturn{OrderID: 1, Location: "S01", Lines: []ReturnLineInput{{"A", 1, "restock"}}}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	n.Lines[0].Disposition = "keep"
	if e := AsError(n.Validate()); e == nil || e.Field != "lines[0].disposition" {
		t.Fatal(e)
	}
	p := NewReturn{OrderID: 1, Pending: true, Lines: []ReturnLineInput{{"A", 1, ""}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}
