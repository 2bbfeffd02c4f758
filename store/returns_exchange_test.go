package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// An exchange in one flow: the return's units land in their buckets, the
// replacement is reserved at the receiving store (a returned unit restocked
// there can serve it) on a new bopis order for the same customer, both
// orders' timelines name the link, and the check is clean. A replacement
// the store cannot reserve refuses the whole thing: no return, no order,
// no reservation, no bucket moved.
func TestReturnExchangeCreatesReservedOrder(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	skuA, skuB := orderSKU(t, db, 43), orderSKU(t, db, 44)
	start := time.Now()
	o := shippedOrder(t, db, skuA, 3)
	setReservable(t, db, domain.BOPIS, skuA, "S03", 0)
	setReservable(t, db, domain.BOPIS, skuB, "S03", 2)
	beforeA, beforeB := position(t, db, skuA, "S03"), position(t, db, skuB, "S03")

	r, err := db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: o.ID, Location: "S03",
		Lines:    []domain.ReturnLineInput{{SKU: skuA, Qty: 1, Disposition: "restock"}, {SKU: skuA, Qty: 1, Disposition: "damaged"}},
		Exchange: &domain.NewExchange{Lines: []domain.OrderLineInput{{SKU: skuA, Qty: 1}, {SKU: skuB, Qty: 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.ExchangeID == nil || r.ExchangeNumber == nil {
		t.Fatalf("the return is not linked to its exchange order: %+v", r)
	}
	if got, _ := db.ReturnByID(ctx, r.ID); got.ExchangeID == nil || *got.ExchangeID != *r.ExchangeID {
		t.Fatalf("stored link %v, want %d", got.ExchangeID, *r.ExchangeID)
	}
	x, err := db.OrderByID(ctx, *r.ExchangeID)
	if err != nil {
		t.Fatal(err)
	}
	if x.Channel != string(domain.BOPIS) || x.PickupLocation != "S03" || x.CustomerEmail != "rita@example.com" || x.Status != domain.OrderAllocated {
		t.Fatalf("exchange order %s: %s at %q for %q, %s", x.Number, x.Channel, x.PickupLocation, x.CustomerEmail, x.Status)
	}
	for _, l := range x.Lines {
		if l.Reserved != l.Qty || l.Location != "S03" {
			t.Fatalf("exchange line %s: %+v at %s", l.SKU, l.LineQty, l.Location)
		}
	}
	wantA := beforeA
	wantA.OnHand, wantA.Damaged, wantA.Reserved = wantA.OnHand+2, wantA.Damaged+1, wantA.Reserved+1
	wantB := beforeB
	wantB.Reserved += 2
	if a, b := position(t, db, skuA, "S03"), position(t, db, skuB, "S03"); a != wantA || b != wantB {
		t.Fatalf("S03 %s %+v want %+v; %s %+v want %+v", skuA, a, wantA, skuB, b, wantB)
	}
	timelineHas(t, db, o, "Exchanged for order "+x.Number)
	timelineHas(t, db, x, "Exchange for return")
	checkChangedSince(t, db, start)

	// The store has no more of skuB to promise: the second exchange is
	// refused with the figures, and nothing of it is recorded.
	var orders, returns, resv int
	count := func() (int, int, int) {
		var a, b, c int
		db.GetContext(ctx, &a, `SELECT count(*) FROM orders`)
		db.GetContext(ctx, &b, `SELECT count(*) FROM returns`)
		db.GetContext(ctx, &c, `SELECT count(*) FROM reservations`)
		return a, b, c
	}
	orders, returns, resv = count()
	_, err = db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: o.ID, Location: "S03",
		Lines:    []domain.ReturnLineInput{{SKU: skuA, Qty: 1, Disposition: "restock"}},
		Exchange: &domain.NewExchange{Lines: []domain.OrderLineInput{{SKU: skuB, Qty: 1}}}})
	e := domain.AsError(err)
	if e == nil || e.Code != domain.CodeInsufficientStock || e.Field != "exchange" || !strings.Contains(e.Message, "1 × "+skuB+" wanted, 0 available") {
		t.Fatalf("a short replacement: %v", err)
	}
	if a, b := position(t, db, skuA, "S03"), position(t, db, skuB, "S03"); a != wantA || b != wantB {
		t.Fatalf("a refused exchange moved stock: %+v %+v", a, b)
	}
	if o2, r2, s2 := count(); o2 != orders || r2 != returns || s2 != resv {
		t.Fatalf("a refused exchange left rows: orders %d→%d, returns %d→%d, reservations %d→%d", orders, o2, returns, r2, resv, s2)
	}
	if got, _ := db.OrderByID(ctx, o.ID); got.Lines[0].Returned != 2 {
		t.Fatalf("a refused exchange returned units: %+v", got.Lines[0].LineQty)
	}
	// Field errors name the exchange's lines.
	for _, c := range []struct {
		in    domain.NewExchange
		field string
	}{
		{domain.NewExchange{Lines: []domain.OrderLineInput{{SKU: "NO-SUCH-SKU", Qty: 1}}}, "exchange.lines[0].sku"},
		{domain.NewExchange{Lines: []domain.OrderLineInput{{SKU: skuB, Qty: 0}}}, "exchange.lines[0].qty"},
		{domain.NewExchange{}, "exchange.lines"},
	} {
		_, err := db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: o.ID, Location: "S03",
			Lines: []domain.ReturnLineInput{{SKU: skuA, Qty: 1, Disposition: "restock"}}, Exchange: &c.in})
		if e := domain.AsError(err); e == nil || e.Code != domain.CodeUnprocessable || e.Field != c.field {
			t.Errorf("%+v: want 422 on %s, got %v", c.in, c.field, err)
		}
	}
	checkChangedSince(t, db, start)
}

func timelineHas(t *testing.T, db *store.DB, o domain.Order, text string) {
	t.Helper()
	tl, err := db.OrderTimeline(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tl {
		if e.Kind == "exchange" && strings.Contains(e.Message, text) {
			return
		}
	}
	t.Errorf("order %s's timeline has no exchange entry %q", o.Number, text)
}
