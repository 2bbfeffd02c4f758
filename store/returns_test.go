package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// shippedOrder creates a ship-from-store order of qty units of sku from S01
// and ships them all.
func shippedOrder(t *testing.T, db *store.DB, sku string, qty int) domain.Order {
	t.Helper()
	setReservable(t, db, domain.ShipFromStore, sku, "S01", qty)
	for _, loc := range []string{"S02", "S04", "S07", "S08", "S10"} {
		setReservable(t, db, domain.ShipFromStore, sku, loc, 0)
	}
	o := mustCreate(t, db, domain.NewOrder{Channel: domain.ShipFromStore, Customer: domain.Customer{Email: "rita@example.com"},
		Lines: []domain.OrderLineInput{{SKU: sku, Qty: qty}}})
	if o.Lines[0].Location != "S01" {
		t.Fatalf("sourced at %q", o.Lines[0].Location)
	}
	o, err := db.Ship(context.Background(), orderActor, o.ID, "S01", []store.ShipLine{{o.Lines[0].ID, qty}}, "", "TRK-R")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// checkChangedSince runs the consistency check over the positions changed
// since start (the shared database is large; the test's work is small).
func checkChangedSince(t *testing.T, db *store.DB, start time.Time) {
	t.Helper()
	rep, err := db.CheckChangedSince(context.Background(), start.Add(-time.Second))
	if err != nil || !rep.OK() {
		t.Fatalf("consistency check: %+v %v", rep, err)
	}
}

// Every disposition moves the receiving store's buckets as the domain
// says, with its reason codes under the return's source_ref, the order
// line's returned quantity in the same transaction, and a clean check;
// quality hold is released later to sellable and to damaged.
func TestReturnDispositionsMoveBuckets(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := orderSKU(t, db, 40)
	start := time.Now()
	o := shippedOrder(t, db, sku, 10)
	before := position(t, db, sku, "S03")
	check := func() { t.Helper(); checkChangedSince(t, db, start) }
	cases := []struct {
		d       domain.Disposition
		delta   domain.Position
		reasons string
	}{
		{domain.DispositionRestock, domain.Position{OnHand: 2}, "return_restock"},
		{domain.DispositionDamaged, domain.Position{OnHand: 2, Damaged: 2}, "return_damaged,return_damaged"},
		{domain.DispositionQualityHold, domain.Position{OnHand: 2, QualityHold: 2}, "return_quality_hold,return_quality_hold"},
		{domain.DispositionReturnToVendor, domain.Position{}, "return_damaged,return_damaged,return_to_vendor,return_to_vendor"},
		{domain.DispositionDestroy, domain.Position{}, "return_damaged,return_damaged,return_destroyed,return_destroyed"},
	}
	reason := func(d domain.Disposition) string { // destroyed units carry the person's reason
		if d == domain.DispositionDestroy {
			return "cracked housing"
		}
		return ""
	}
	want := before
	for i, c := range cases {
		r, err := db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: o.ID, Location: "S03",
			Lines: []domain.ReturnLineInput{{SKU: sku, Qty: 2, Disposition: string(c.d), Reason: reason(c.d)}}})
		if err != nil {
			t.Fatalf("%s: %v", c.d, err)
		}
		if r.Status != domain.ReturnReceived || len(r.Lines) != 1 || r.Lines[0].Disposition != c.d || r.Lines[0].Reason != reason(c.d) {
			t.Fatalf("%s: %+v", c.d, r)
		}
		if why := reason(c.d); why != "" {
			var notes int
			db.GetContext(ctx, &notes, `SELECT count(*) FROM ledger WHERE source_ref = $1 AND note LIKE '%' || $2 || '%'`, fmt.Sprintf("return:%d", r.ID), why)
			if notes != 4 {
				t.Errorf("%s: %d ledger rows name the reason %q, want 4", c.d, notes, why)
			}
		}
		want = domain.Position{OnHand: want.OnHand + c.delta.OnHand, Damaged: want.Damaged + c.delta.Damaged, QualityHold: want.QualityHold + c.delta.QualityHold}
		if got := position(t, db, sku, "S03"); got != want {
			t.Errorf("%s: S03 %+v, want %+v", c.d, got, want)
		}
		var reasons []string
		db.SelectContext(ctx, &reasons, `SELECT reason FROM ledger WHERE source_ref = $1 ORDER BY reason, id`, fmt.Sprintf("return:%d", r.ID))
		if got := strings.Join(reasons, ","); got != c.reasons {
			t.Errorf("%s: ledger reasons %s, want %s", c.d, got, c.reasons)
		}
		got, _ := db.OrderByID(ctx, o.ID)
		if got.Lines[0].Returned != 2*(i+1) || got.Lines[0].Shipped != 10-2*(i+1) {
			t.Errorf("%s: order line %+v", c.d, got.Lines[0].LineQty)
		}
		check()
	}
	// Quality hold: one unit back to sellable, one to damaged.
	held, err := db.ListReturns(ctx, store.ReturnFilter{Held: true, OrderID: o.ID})
	if err != nil || len(held) != 1 {
		t.Fatalf("held returns %d %v", len(held), err)
	}
	h := held[0]
	if _, err := db.ReleaseHold(ctx, orderActor, h.ID, 1, 3, false); domain.AsError(err) == nil || domain.AsError(err).Field != "qty" {
		t.Fatalf("releasing more than is held: %v", err)
	}
	if _, err := db.ReleaseHold(ctx, orderActor, h.ID, 1, 1, false); err != nil {
		t.Fatal(err)
	}
	want.QualityHold--
	if got := position(t, db, sku, "S03"); got != want {
		t.Errorf("released to sellable: %+v, want %+v", got, want)
	}
	r, err := db.ReleaseHold(ctx, orderActor, h.ID, 1, 1, true)
	if err != nil || r.Lines[0].OnHold() != 0 {
		t.Fatalf("release to damaged: %v %+v", err, r.Lines)
	}
	want.QualityHold, want.Damaged = want.QualityHold-1, want.Damaged+1
	if got := position(t, db, sku, "S03"); got != want {
		t.Errorf("released to damaged: %+v, want %+v", got, want)
	}
	if left, _ := db.ListReturns(ctx, store.ReturnFilter{Held: true, OrderID: o.ID}); len(left) != 0 {
		t.Errorf("still listed as held: %d", len(left))
	}
	check()
	tl, err := db.OrderTimeline(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range tl {
		if e.Kind == "return" {
			n++
		}
	}
	if n != 7 { // five returns, two releases
		t.Errorf("%d return entries on the order timeline, want 7", n)
	}
}

// More than was fulfilled less what came back already is refused with
// exceeds_fulfilled naming the line, cumulatively over lines of one SKU,
// and nothing moves.
func TestReturnExceedingFulfilledIsRefused(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := orderSKU(t, db, 41)
	o := shippedOrder(t, db, sku, 3)
	before := position(t, db, sku, "S01")
	_, err := db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: o.ID, Location: "S01", Lines: []domain.ReturnLineInput{
		{SKU: sku, Qty: 2, Disposition: "restock"}, {SKU: sku, Qty: 2, Disposition: "damaged"}}})
	e := domain.AsError(err)
	if e == nil || e.Code != domain.CodeExceedsFulfilled || e.Field != "lines[1].qty" {
		t.Fatalf("want exceeds_fulfilled on lines[1].qty, got %v", err)
	}
	if got := position(t, db, sku, "S01"); got != before {
		t.Fatalf("a refused return moved stock: %+v", got)
	}
	if _, err := db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: o.ID, Location: "S01",
		Lines: []domain.ReturnLineInput{{SKU: sku, Qty: 3, Disposition: "restock"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: o.ID, Location: "S01",
		Lines: []domain.ReturnLineInput{{SKU: sku, Qty: 1, Disposition: "restock"}}})
	if domain.ErrorCode(err) != domain.CodeExceedsFulfilled {
		t.Fatalf("a second return of the same units: %v", err)
	}
	// An order never fulfilled has nothing to return.
	setReservable(t, db, domain.ShipFromStore, sku, "S01", 1)
	open := mustCreate(t, db, domain.NewOrder{Channel: domain.ShipFromStore, Customer: domain.Customer{Email: "x@example.com"},
		Lines: []domain.OrderLineInput{{SKU: sku, Qty: 1}}})
	_, err = db.CreateReturn(ctx, orderActor, domain.NewReturn{OrderID: open.ID, Location: "S01",
		Lines: []domain.ReturnLineInput{{SKU: sku, Qty: 1, Disposition: "restock"}}})
	if e := domain.AsError(err); e == nil || e.Code != domain.CodeExceedsFulfilled || e.Field != "lines[0].qty" {
		t.Fatalf("unfulfilled order: %v", err)
	}
	mustCheck(t, db)
}

// The connector's refunds: with restock, a received return at the
// refund's location (restocked, once however often it is delivered);
// without, a pending return that moves nothing until a store receives it
// with dispositions. A refund of an unknown order waits for it.
func TestConnectorRefundsBecomeReturns(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := orderSKU(t, db, 42)
	setReservable(t, db, domain.EcommerceShip, sku, "DC1", 4)
	sink := db.OrderSink()
	eo := domain.ExternalOrder{Source: "shop-r", ExternalRef: "7001", Name: "#7001", Channel: domain.EcommerceShip,
		CustomerEmail: "r@example.com", FinancialStatus: "paid", Lines: []domain.ExternalOrderLine{{ExternalLineID: "1", SKU: sku, Quantity: 4}}}
	if err := db.InTx(ctx, func(tx *store.Tx) error { return sink.CreateOrder(ctx, tx, eo) }); err != nil {
		t.Fatal(err)
	}
	found, _, _ := db.SearchOrders(ctx, store.OrderQuery{ExternalRef: "7001"})
	o, _ := db.OrderByID(ctx, found[0].ID)
	if _, err := db.Ship(ctx, orderActor, o.ID, o.Lines[0].Location, []store.ShipLine{{o.Lines[0].ID, 4}}, "", "TRK-7001"); err != nil {
		t.Fatal(err)
	}
	s02 := position(t, db, sku, "S02")
	refund := func(r domain.ExternalRefund) error {
		return db.InTx(ctx, func(tx *store.Tx) error { return sink.RefundOrder(ctx, tx, r) })
	}
	restock := domain.ExternalRefund{Source: "shop-r", RefundID: "90", OrderRef: "7001",
		Lines: []domain.ExternalRefundLine{{SKU: sku, Quantity: 1, Restock: true, LocationCode: "S02"}}}
	for range 2 {
		if err := refund(restock); err != nil {
			t.Fatal(err)
		}
	}
	if got := position(t, db, sku, "S02"); got.OnHand != s02.OnHand+1 {
		t.Fatalf("restock refund: S02 %+v, was %+v", got, s02)
	}
	if err := refund(domain.ExternalRefund{Source: "shop-r", RefundID: "91", OrderRef: "7001",
		Lines: []domain.ExternalRefundLine{{SKU: sku, Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	pend, _ := db.ListReturns(ctx, store.ReturnFilter{Status: domain.ReturnPending, OrderID: o.ID})
	if len(pend) != 1 || pend[0].Units() != 2 || pend[0].Location != nil {
		t.Fatalf("pending returns %+v", pend)
	}
	if got := position(t, db, sku, "S02"); got.OnHand != s02.OnHand+1 {
		t.Fatalf("a refund without restock moved stock: %+v", got)
	}
	o, _ = db.OrderByID(ctx, o.ID)
	if o.Lines[0].Returned != 3 {
		t.Fatalf("order line %+v", o.Lines[0].LineQty)
	}
	// The store receives it: one restocked, one damaged.
	r, err := db.ReceiveReturn(ctx, orderActor, pend[0].ID, "S02", []domain.ReturnLineInput{{SKU: sku, Qty: 1, Disposition: "restock"}})
	if domain.AsError(err) == nil || domain.AsError(err).Field != "lines" {
		t.Fatalf("receiving fewer units than are pending: %v", err)
	}
	r, err = db.ReceiveReturn(ctx, orderActor, pend[0].ID, "S02", []domain.ReturnLineInput{
		{SKU: sku, Qty: 1, Disposition: "restock"}, {SKU: sku, Qty: 1, Disposition: "damaged"}})
	if err != nil || r.Status != domain.ReturnReceived || len(r.Lines) != 2 {
		t.Fatalf("receive: %v %+v", err, r)
	}
	if got := position(t, db, sku, "S02"); got.OnHand != s02.OnHand+3 || got.Damaged != s02.Damaged+1 {
		t.Fatalf("after receiving: %+v, was %+v", got, s02)
	}
	if _, err := db.ReceiveReturn(ctx, orderActor, r.ID, "S02", []domain.ReturnLineInput{{SKU: sku, Qty: 2, Disposition: "restock"}}); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("receiving twice: %v", err)
	}
	err = refund(domain.ExternalRefund{Source: "shop-r", RefundID: "92", OrderRef: "nope", Lines: []domain.ExternalRefundLine{{SKU: sku, Quantity: 1}}})
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("refund of an unknown order: %v", err)
	}
	mustCheck(t, db)
}
