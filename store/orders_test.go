package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// orderSKU is the i-th SKU from the end of the catalogue: order tests use
// SKUs the reservation tests (which count from the start) never touch.
func orderSKU(t *testing.T, db *store.DB, i int) string {
	t.Helper()
	var sku string
	if err := db.GetContext(context.Background(), &sku, `SELECT sku FROM products ORDER BY sku DESC OFFSET $1 LIMIT 1`, i); err != nil {
		t.Fatal(err)
	}
	return sku
}

var orderActor = domain.Actor{Kind: "user", Name: "ann@demo.stockline"}

func newBopis(loc string, lines ...domain.OrderLineInput) domain.NewOrder {
	return domain.NewOrder{Channel: domain.BOPIS, PickupLocation: loc, Customer: domain.Customer{Name: "Ann Lee", Email: "ann.lee@example.com", Phone: "+1 555 010 2000"},
		Lines: lines}
}

func position(t *testing.T, db *store.DB, sku, loc string) domain.Position {
	t.Helper()
	ctx := context.Background()
	l, _ := db.LocationByCode(ctx, loc)
	p, _ := db.ProductBySKU(ctx, sku)
	pos, err := db.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func mustCreate(t *testing.T, db *store.DB, in domain.NewOrder) domain.Order {
	t.Helper()
	res, err := db.CreateOrder(context.Background(), orderActor, in)
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	return res.Order
}

func openExceptions(t *testing.T, db *store.DB, kind, ref string) []domain.ExceptionDetail {
	t.Helper()
	rows, _, err := db.ListExceptions(context.Background(), store.ExceptionFilter{Kind: kind, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.ExceptionDetail
	for _, r := range rows {
		if r.Ref == ref {
			out = append(out, r)
		}
	}
	return out
}

// assertQueueOrder: the most urgent first (rows with a due time before
// those without, then by due time, then by id).
func assertQueueOrder(t *testing.T, rows []domain.PickupRow) {
	t.Helper()
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		da, oka := a.Due()
		db, okb := b.Due()
		if oka != okb {
			if !oka {
				t.Fatalf("row %d (no due time) before row %d (due %s)", a.ID, b.ID, db)
			}
			continue
		}
		if da.After(db) || da.Equal(db) && a.ID > b.ID {
			t.Fatalf("row %d (due %s) before row %d (due %s)", a.ID, da, b.ID, db)
		}
	}
}

// Pickup end to end: placed and held, picked by scan, ready (customer
// told), handed over (reservation consumed: reserved and on_hand down).
func TestOrderPickupFlow(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := orderSKU(t, db, 0), orderSKU(t, db, 1)
	setReservable(t, db, domain.BOPIS, a, "S01", 5)
	setReservable(t, db, domain.BOPIS, b, "S01", 5)
	before := position(t, db, a, "S01")

	o := mustCreate(t, db, newBopis("S01", domain.OrderLineInput{SKU: a, Qty: 2}, domain.OrderLineInput{SKU: b, Qty: 1}))
	if o.Status != domain.OrderAllocated || len(o.Lines) != 2 || !strings.HasPrefix(o.Number, "SL-") {
		t.Fatalf("created: %+v", o)
	}
	if got := position(t, db, a, "S01"); got.Reserved != before.Reserved+2 {
		t.Fatalf("reserved %d, want %d", got.Reserved, before.Reserved+2)
	}
	r, err := db.Reservation(ctx, o.Lines[0].ReservationID)
	if err != nil || r.Status != domain.Committed || r.OrderRef != o.Number {
		t.Fatalf("reservation: %+v %v", r, err)
	}
	mustCheck(t, db)

	ids, _ := db.LocationIDs(ctx, []string{"S01"})
	rows, counts, err := db.PickupQueue(ctx, ids, domain.TabToPick, time.Now(), 200)
	if err != nil || counts.ToPick == 0 || !slices.ContainsFunc(rows, func(r domain.PickupRow) bool { return r.ID == o.ID && r.ToPickHere == 3 }) {
		t.Fatalf("queue: %v %+v %+v", err, counts, rows)
	}
	assertQueueOrder(t, rows)
	if top, _, err := db.PickupQueue(ctx, ids, domain.TabToPick, time.Now(), 1); err != nil || len(top) != 1 || top[0].ID != rows[0].ID {
		t.Fatalf("a one-row page is not the queue's first row: %v %+v", err, top)
	}
	// A wrong scan is refused and names what is expected.
	if _, err := db.PickLine(ctx, orderActor, o.ID, o.Lines[0].ID, o.Lines[1].Barcode, 0); domain.AsError(err) == nil || domain.AsError(err).Field != "scan" {
		t.Fatalf("wrong scan: %v", err)
	}
	o, err = db.PickLine(ctx, orderActor, o.ID, o.Lines[0].ID, o.Lines[0].Barcode, 0)
	if err != nil || o.Status != domain.OrderInFulfilment {
		t.Fatalf("pick 1: %v %s", err, o.Status)
	}
	o, err = db.PickLine(ctx, orderActor, o.ID, o.Lines[1].ID, strings.ToLower(o.Lines[1].SKU), 0)
	if err != nil || o.Status != domain.OrderReadyForPickup {
		t.Fatalf("pick 2: %v %s", err, o.Status)
	}
	var queued int
	db.GetContext(ctx, &queued, `SELECT count(*) FROM notifications WHERE order_id = $1 AND kind = 'ready_for_pickup' AND status = 'queued'`, o.ID)
	if queued != 1 {
		t.Fatalf("ready for pickup notification: %d queued", queued)
	}
	o, err = db.HandOver(ctx, orderActor, o.ID)
	if err != nil || o.Status != domain.OrderCompleted {
		t.Fatalf("hand over: %v %s", err, o.Status)
	}
	after := position(t, db, a, "S01")
	if after.OnHand != before.OnHand-2 || after.Reserved != before.Reserved {
		t.Fatalf("after pickup: %+v, before %+v", after, before)
	}
	if _, err := db.CancelOrder(ctx, orderActor, o.ID, store.CancelRequest{}); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("cancelling a completed order: %v", err)
	}
	mustCheck(t, db)

	tl, err := db.OrderTimeline(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range tl {
		kinds[e.Kind]++
	}
	for _, k := range []string{"created", "reservation", "ledger", "picked", "status", "notification", "picked_up"} {
		if kinds[k] == 0 {
			t.Errorf("timeline has no %s entry: %v", k, kinds)
		}
	}
}

// An order that cannot be reserved is kept on hold with an oversell
// exception naming the location and SKU; a captured payment raises
// payment_before_stock. What can be held is held.
func TestOrderOversellGoesOnHold(t *testing.T) {
	db := resvDB(t)
	a, b := orderSKU(t, db, 2), orderSKU(t, db, 3)
	setReservable(t, db, domain.BOPIS, a, "S02", 1)
	setReservable(t, db, domain.BOPIS, b, "S02", 4)
	in := newBopis("S02", domain.OrderLineInput{SKU: a, Qty: 3}, domain.OrderLineInput{SKU: b, Qty: 2})
	in.PaymentStatus = domain.PaymentCaptured
	o := mustCreate(t, db, in)
	if o.Status != domain.OrderOnHold || o.HoldReason != "oversell" {
		t.Fatalf("status %s hold %q", o.Status, o.HoldReason)
	}
	var held, pending int
	for _, l := range o.Lines {
		held += l.Reserved
		pending += l.Pending
	}
	if held != 2 || pending != 3 {
		t.Fatalf("held %d pending %d: %+v", held, pending, o.Lines)
	}
	ex := openExceptions(t, db, "oversell", o.Number)
	if len(ex) != 1 || ex[0].Location != "S02" || ex[0].SKU != a {
		t.Fatalf("oversell exceptions: %+v", ex)
	}
	if len(openExceptions(t, db, "payment_before_stock", o.Number)) != 1 {
		t.Fatal("no payment_before_stock exception")
	}
	mustCheck(t, db)
	// Cancelling the short line releases nothing and ends the hold.
	o, err := db.CancelOrder(context.Background(), orderActor, o.ID, store.CancelRequest{Lines: []domain.OrderLineInput{{SKU: a, Qty: 3}}, Reason: "out of stock"})
	if err != nil || o.Status != domain.OrderAllocated || o.HoldReason != "" {
		t.Fatalf("after cancel: %v %s %q", err, o.Status, o.HoldReason)
	}
	var n int
	db.GetContext(context.Background(), &n, `SELECT count(*) FROM notifications WHERE order_id = $1 AND kind IN ('cancelled', 'refund_issued')`, o.ID)
	if n != 2 {
		t.Fatalf("cancel and refund notifications: %d", n)
	}
	mustCheck(t, db)
}

// Item not found: the units leave reserved for quality_hold (ATP does not
// rise), the order goes on hold with an exception, the store that rejected
// it is refused, and reallocation elsewhere (or a split) ends the hold.
func TestOrderRejectAndReallocate(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a := orderSKU(t, db, 4)
	setReservable(t, db, domain.BOPIS, a, "S03", 3)
	setReservable(t, db, domain.BOPIS, a, "S04", 1)
	setReservable(t, db, domain.BOPIS, a, "S05", 2)
	o := mustCreate(t, db, newBopis("S03", domain.OrderLineInput{SKU: a, Qty: 3}))
	atpBefore := reservable(t, db, domain.BOPIS, a, "S03")
	qhBefore := position(t, db, a, "S03").QualityHold

	o, err := db.RejectLine(ctx, orderActor, o.ID, o.Lines[0].ID, domain.RejectNotFound, "", 0, "shelf empty")
	if err != nil || o.Status != domain.OrderOnHold || o.Lines[0].Pending != 3 {
		t.Fatalf("reject: %v %s %+v", err, o.Status, o.Lines)
	}
	if got := reservable(t, db, domain.BOPIS, a, "S03"); got != atpBefore {
		t.Fatalf("ATP at S03 went from %d to %d: missing units must stay out of ATP", atpBefore, got)
	}
	if got := position(t, db, a, "S03").QualityHold; got != qhBefore+3 {
		t.Fatalf("quality_hold %d, want %d", got, qhBefore+3)
	}
	if len(openExceptions(t, db, "item_not_found", o.Number)) != 1 {
		t.Fatal("no item_not_found exception")
	}
	mustCheck(t, db)

	if _, err := db.ReallocateLine(ctx, orderActor, o.ID, o.Lines[0].ID, []domain.LineAllocation{{Location: "S03", Qty: 3}}); domain.AsError(err) == nil || domain.AsError(err).Field != "location" {
		t.Fatalf("back to the rejecting store: %v", err)
	}
	if _, err := db.ReallocateLine(ctx, orderActor, o.ID, o.Lines[0].ID, []domain.LineAllocation{{Location: "S04", Qty: 3}}); domain.ErrorCode(err) != domain.CodeInsufficientStock {
		t.Fatalf("too little at S04: %v", err)
	}
	alts, err := db.AlternativeStores(ctx, domain.BOPIS, o.Lines[0].ProductID, o.Lines[0].RejectedIDs, 0)
	if err != nil || len(alts) < 2 || alts[0].Code == "S03" {
		t.Fatalf("alternatives: %+v %v", alts, err)
	}
	// Split: 1 from S04, 2 from S05.
	o, err = db.ReallocateLine(ctx, orderActor, o.ID, o.Lines[0].ID, []domain.LineAllocation{{Location: "S04", Qty: 1}, {Location: "S05", Qty: 2}})
	if err != nil || o.Status != domain.OrderAllocated || len(o.Lines) != 3 || o.Lines[0].State() != "reallocated" {
		t.Fatalf("split: %v %s %+v", err, o.Status, o.Lines)
	}
	for _, l := range o.Lines[1:] {
		if l.MovedFrom == 0 || len(l.RejectedAt) != 1 || l.RejectedAt[0] != "S03" {
			t.Fatalf("new line %+v", l)
		}
	}
	if len(openExceptions(t, db, "item_not_found", o.Number)) != 0 {
		t.Fatal("item_not_found should be resolved by the reallocation")
	}
	mustCheck(t, db)
}

// Ship orders ship partially from several locations with tracking numbers;
// the rest stays open.
func TestOrderShipPartially(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := orderSKU(t, db, 5), orderSKU(t, db, 6)
	setReservable(t, db, domain.ShipFromStore, a, "S01", 2)
	setReservable(t, db, domain.ShipFromStore, b, "S01", 0)
	setReservable(t, db, domain.ShipFromStore, b, "S02", 3)
	for _, loc := range []string{"S04", "S07", "S08", "S10"} {
		setReservable(t, db, domain.ShipFromStore, a, loc, 0)
		setReservable(t, db, domain.ShipFromStore, b, loc, 0)
	}
	setReservable(t, db, domain.ShipFromStore, a, "S02", 0)
	o := mustCreate(t, db, domain.NewOrder{Channel: domain.ShipFromStore, Customer: domain.Customer{Email: "bo@example.com"},
		Lines: []domain.OrderLineInput{{SKU: a, Qty: 2}, {SKU: b, Qty: 3}}})
	if o.Status != domain.OrderAllocated || len(o.Lines) != 2 || o.Lines[0].Location == o.Lines[1].Location {
		t.Fatalf("split sourcing: %s %+v", o.Status, o.Lines)
	}
	var la, lb domain.OrderLine
	for _, l := range o.Lines {
		if l.SKU == a {
			la = l
		} else {
			lb = l
		}
	}
	if _, err := db.Ship(ctx, orderActor, o.ID, la.Location, []store.ShipLine{{la.ID, 2}}, "UPS", ""); domain.AsError(err).Field != "tracking" {
		t.Fatalf("no tracking: %v", err)
	}
	o, err := db.Ship(ctx, orderActor, o.ID, la.Location, []store.ShipLine{{la.ID, 2}}, "UPS", "1Z999")
	if err != nil || o.Status != domain.OrderPartiallyFulfilled {
		t.Fatalf("first shipment: %v %s", err, o.Status)
	}
	o, err = db.Ship(ctx, orderActor, o.ID, lb.Location, []store.ShipLine{{lb.ID, 1}}, "", "TRK-2")
	if err != nil || o.Status != domain.OrderPartiallyFulfilled || o.Line(lb.ID).Reserved != 2 {
		t.Fatalf("second shipment: %v %s", err, o.Status)
	}
	mustCheck(t, db)
	o, err = db.Ship(ctx, orderActor, o.ID, lb.Location, []store.ShipLine{{lb.ID, 2}}, "", "TRK-3")
	if err != nil || o.Status != domain.OrderCompleted {
		t.Fatalf("last shipment: %v %s", err, o.Status)
	}
	var kinds []string
	db.SelectContext(ctx, &kinds, `SELECT kind FROM notifications WHERE order_id = $1 ORDER BY id`, o.ID)
	if strings.Join(kinds, ",") != "partially_shipped,partially_shipped,shipped" {
		t.Fatalf("notifications %v", kinds)
	}
	mustCheck(t, db)
}

// Pickup location change moves the hold in one transaction after checking
// ATP; without stock it is refused with alternatives and nothing changes.
func TestOrderChangePickupLocation(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a := orderSKU(t, db, 7)
	setReservable(t, db, domain.BOPIS, a, "S01", 2)
	setReservable(t, db, domain.BOPIS, a, "S02", 0)
	setReservable(t, db, domain.BOPIS, a, "S05", 4)
	o := mustCreate(t, db, newBopis("S01", domain.OrderLineInput{SKU: a, Qty: 2}))
	_, err := db.ChangePickupLocation(ctx, orderActor, o.ID, "S02")
	e := domain.AsError(err)
	if e == nil || e.Code != domain.CodeInsufficientStock || !strings.Contains(e.Message, "S05") {
		t.Fatalf("no stock at S02: %v", err)
	}
	if alts, _ := e.Details["alternatives"].([]domain.StoreATP); len(alts) == 0 {
		t.Fatalf("alternatives: %+v", e.Details)
	}
	if got := reservable(t, db, domain.BOPIS, a, "S01"); got != 0 {
		t.Fatalf("a refused change must leave the hold at S01 (reservable %d)", got)
	}
	o, err = db.PickLine(ctx, orderActor, o.ID, o.Lines[0].ID, o.Lines[0].Barcode, 0)
	if err != nil || o.Status != domain.OrderReadyForPickup {
		t.Fatal(err, o.Status)
	}
	o, err = db.ChangePickupLocation(ctx, orderActor, o.ID, "S05")
	if err != nil || o.PickupLocation != "S05" || o.Lines[0].Location != "S05" || o.Lines[0].Reserved != 2 || o.Status != domain.OrderAllocated {
		t.Fatalf("moved: %v %+v %s", err, o.Lines, o.Status)
	}
	if reservable(t, db, domain.BOPIS, a, "S01") != 2 || reservable(t, db, domain.BOPIS, a, "S05") != 2 {
		t.Fatal("stock did not move")
	}
	mustCheck(t, db)
}

// Concurrent pickup-location changes and cancellations on the same orders
// never leave a reservation orphaned or doubled.
func TestOrderConcurrentChangesAndCancels(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := orderSKU(t, db, 8), orderSKU(t, db, 9)
	stores := []string{"S01", "S02", "S03", "S04"}
	for _, s := range stores {
		setReservable(t, db, domain.BOPIS, a, s, 12)
		setReservable(t, db, domain.BOPIS, b, s, 12)
	}
	var orders []domain.Order
	for i := range 6 {
		orders = append(orders, mustCreate(t, db, newBopis(stores[i%len(stores)], domain.OrderLineInput{SKU: a, Qty: 2}, domain.OrderLineInput{SKU: b, Qty: 2})))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var unexpected []error
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 12 {
				o := orders[(w+i)%len(orders)]
				var err error
				switch (w + i) % 3 {
				case 0, 1:
					_, err = db.ChangePickupLocation(ctx, orderActor, o.ID, stores[(w*3+i)%len(stores)])
				case 2:
					_, err = db.CancelOrder(ctx, orderActor, o.ID, store.CancelRequest{Lines: []domain.OrderLineInput{{SKU: a, Qty: 1}}, Reason: "test"})
				}
				var de *domain.Error
				if err != nil && !(errors.As(err, &de) && de.Code != domain.EINTERNAL) {
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("unexpected errors: %v", unexpected)
	}
	mustCheck(t, db)
	for _, o := range orders {
		o, err := db.OrderByID(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range o.Lines {
			if l.Held() > 0 && l.Location != o.PickupLocation {
				t.Fatalf("order %s line %s held at %s but pickup is %s", o.Number, l.SKU, l.Location, o.PickupLocation)
			}
		}
	}
	// Then cancel everything: all stock comes back.
	for _, o := range orders {
		if _, err := db.CancelOrder(ctx, orderActor, o.ID, store.CancelRequest{}); err != nil && domain.ErrorCode(err) != domain.ECONFLICT {
			t.Fatal(err)
		}
	}
	for _, s := range stores {
		if reservable(t, db, domain.BOPIS, a, s) != 12 || reservable(t, db, domain.BOPIS, b, s) != 12 {
			t.Fatalf("stock at %s did not come back", s)
		}
	}
	mustCheck(t, db)
}

// Existing reservations are committed to the order; one that does not fit
// is refused and nothing is written.
func TestOrderFromReservation(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a := orderSKU(t, db, 10)
	setReservable(t, db, domain.BOPIS, a, "S07", 3)
	res, err := db.Reserve(ctx, call(bopis("S07", a, 2)))
	if err != nil {
		t.Fatal(err)
	}
	r := decodeRes(t, res)
	in := newBopis("", domain.OrderLineInput{SKU: a, Qty: 3})
	in.ReservationID = r.ID
	if _, err := db.CreateOrder(ctx, orderActor, in); domain.ErrorCode(err) != "reservation_mismatch" {
		t.Fatalf("mismatch: %v", err)
	}
	in.Lines[0].Qty = 2
	o := mustCreate(t, db, in)
	if o.PickupLocation != "S07" || o.Status != domain.OrderAllocated || o.Lines[0].ReservationID != r.ID {
		t.Fatalf("from reservation: %+v", o)
	}
	got, _ := db.Reservation(ctx, r.ID)
	if got.Status != domain.Committed || got.OrderRef != o.Number {
		t.Fatalf("reservation %+v", got)
	}
	mustCheck(t, db)
}

// The connectors' order sink creates orders idempotently and cancels them.
func TestOrderSinkCreatesAndCancels(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a := orderSKU(t, db, 11)
	setReservable(t, db, domain.EcommerceShip, a, "DC1", 5)
	sink := db.OrderSink()
	if sink == nil {
		t.Fatal("the orders capability registers an order sink")
	}
	eo := domain.ExternalOrder{Source: "shopify-test", ExternalRef: "820982911946154508", Name: "#1001", Channel: domain.EcommerceShip,
		CustomerName: "Cy", CustomerEmail: "cy@example.com", FinancialStatus: "paid",
		Lines: []domain.ExternalOrderLine{{ExternalLineID: "1", SKU: a, Quantity: 2}}}
	for range 2 {
		if err := db.InTx(ctx, func(tx *store.Tx) error { return sink.CreateOrder(ctx, tx, eo) }); err != nil {
			t.Fatal(err)
		}
	}
	found, _, err := db.SearchOrders(ctx, store.OrderQuery{ExternalRef: "820982911946154508"})
	if err != nil || len(found) != 1 || found[0].Status != domain.OrderAllocated {
		t.Fatalf("search by external ref: %+v %v", found, err)
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		return sink.CancelOrder(ctx, tx, domain.ExternalOrderCancel{Source: "shopify-test", ExternalRef: "999"})
	})
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("cancel of an unknown order: %v", err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		return sink.CancelOrder(ctx, tx, domain.ExternalOrderCancel{Source: "shopify-test", ExternalRef: "820982911946154508", Reason: "customer"})
	}); err != nil {
		t.Fatal(err)
	}
	o, _ := db.OrderByID(ctx, found[0].ID)
	if o.Status != domain.OrderCancelled {
		t.Fatalf("status %s", o.Status)
	}
	mustCheck(t, db)
}

// Search finds orders by number, email, phone, SKU and external ref.
func TestOrderSearch(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a := orderSKU(t, db, 12)
	setReservable(t, db, domain.BOPIS, a, "S08", 2)
	in := newBopis("S08", domain.OrderLineInput{SKU: a, Qty: 1})
	in.Customer = domain.Customer{Name: "Dee", Email: "Dee.Search@Example.com", Phone: "(555) 777-1234"}
	in.ExternalRef = "web-777"
	o := mustCreate(t, db, in)
	for _, q := range []store.OrderQuery{
		{Q: o.Number}, {Q: strings.TrimPrefix(o.Number, "SL-")}, {Q: "dee.search@example.com"}, {Q: "555-777-1234"}, {Q: a},
		{Q: "web-777"}, {Email: "DEE.search@example.com"}, {ExternalRef: "web-777", Email: "dee.search@example.com"},
	} {
		rows, _, err := db.SearchOrders(ctx, q)
		if err != nil || !containsOrder(rows, o.ID) {
			t.Errorf("search %+v: %v %v", q, rows, err)
		}
	}
	rows, _, _ := db.SearchOrders(ctx, store.OrderQuery{ExternalRef: "web-777", Email: "someone@else.com"})
	if len(rows) != 0 {
		t.Errorf("filters must combine with AND: %v", rows)
	}
}

func containsOrder(rows []domain.OrderSummary, id int64) bool {
	for _, r := range rows {
		if r.ID == id {
			return true
		}
	}
	return false
}

// Notifications are delivered by the sender with a timeline entry; a
// failing sender leaves them queued, then failed.
func TestNotificationsSendAndRelay(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a := orderSKU(t, db, 13)
	setReservable(t, db, domain.BOPIS, a, "S09", 2)
	o := mustCreate(t, db, newBopis("S09", domain.OrderLineInput{SKU: a, Qty: 1}))
	o, err := db.PickLine(ctx, orderActor, o.ID, o.Lines[0].ID, o.Lines[0].Barcode, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sent []domain.Notification
	n, err := db.SendQueuedNotifications(ctx, func(ctx context.Context, n domain.Notification) (string, error) {
		if n.Kind != domain.NotifyReadyForPickup {
			return "", fmt.Errorf("unexpected %s", n.Kind)
		}
		sent = append(sent, n)
		return "test", nil
	}, 1000)
	if err != nil || n == 0 || len(sent) == 0 {
		t.Fatalf("sent %d %v", n, err)
	}
	var mine *domain.Notification
	for i := range sent {
		if sent[i].OrderID == o.ID {
			mine = &sent[i]
		}
	}
	if mine == nil || !strings.Contains(mine.Subject, o.Number) || !strings.Contains(mine.Body, "Ann Lee") {
		t.Fatalf("message: %+v", mine)
	}
	tl, _ := db.OrderTimeline(ctx, o)
	delivered := false
	for _, e := range tl {
		delivered = delivered || e.Kind == "notification" && strings.Contains(e.Message, "Delivered") && e.Actor == "system:notifier"
	}
	if !delivered {
		t.Fatalf("timeline lacks the delivery: %+v", tl)
	}
	if _, err := db.RelayOutbox(ctx, 10000, nil); err != nil {
		t.Fatal(err)
	}
	var unpublished int
	db.GetContext(ctx, &unpublished, `SELECT count(*) FROM outbox WHERE published_at IS NULL`)
	if unpublished != 0 {
		t.Fatalf("%d outbox rows left unpublished", unpublished)
	}
}
