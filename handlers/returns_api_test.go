package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/store"
)

type returnBody struct {
	ID       int64   `json:"id"`
	Order    int64   `json:"order"`
	Location *string `json:"location"`
	Lines    []struct {
		SKU         string `json:"sku"`
		Qty         int    `json:"qty"`
		Disposition string `json:"disposition"`
	} `json:"lines"`
	Status string `json:"status"`
}

// collectedOrder is a pickup order at S02 of qty units of sku, picked and
// handed over: qty units fulfilled.
func collectedOrder(t *testing.T, app *testApp, sku string, qty int) domain.Order {
	t.Helper()
	ctx := context.Background()
	setBOPISReservable(t, app.DB, sku, "S02", qty)
	cr, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S02",
		Customer: domain.Customer{Name: "Rae Return", Email: "rae@example.com"}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: qty}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	act := domain.Actor{Kind: "user", Name: "associate@demo.stockline"}
	if _, err := app.DB.PickLine(ctx, act, o.ID, o.Lines[0].ID, sku, qty); err != nil {
		t.Fatal(err)
	}
	if o, err = app.DB.HandOver(ctx, act, o.ID); err != nil {
		t.Fatal(err)
	}
	return o
}

// The returns API: 201 with the return, replayed byte for byte on the same
// key, idempotency_mismatch on another body, exceeds_fulfilled naming the
// line, 422 with field for bad input; an online order returned at another
// store; GET answers the same shape.
func TestReturnsAPI(t *testing.T) {
	app := newApp(t)
	sku := orderTestSKU(t, app, 60)
	o := collectedOrder(t, app, sku, 3)
	before := positionOf(t, app, sku, "S01")
	body := fmt.Sprintf(`{"order":%d,"location":"S01","lines":[{"sku":%q,"qty":1,"disposition":"restock"},{"sku":%q,"qty":1,"disposition":"damaged"}],"exchange_order":null}`, o.ID, sku, sku)
	res, b := app.apiDo(http.MethodPost, "/api/v1/returns", body, "Idempotency-Key", "ret-1")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create %d %s", res.StatusCode, b)
	}
	r := decodeAs[returnBody](t, b)
	if r.ID == 0 || r.Order != o.ID || r.Location == nil || *r.Location != "S01" || r.Status != "received" || len(r.Lines) != 2 ||
		r.Lines[0].Disposition != "restock" || r.Lines[1].Disposition != "damaged" {
		t.Fatalf("created %s", b)
	}
	for _, k := range []string{`"id":`, `"order":`, `"location":`, `"lines":`, `"status":`} {
		if !strings.Contains(b, k) {
			t.Fatalf("answer lacks %s: %s", k, b)
		}
	}
	if res2, b2 := app.apiDo(http.MethodPost, "/api/v1/returns", body, "Idempotency-Key", "ret-1"); res2.StatusCode != http.StatusCreated || b2 != b {
		t.Fatalf("replay %d %s", res2.StatusCode, b2)
	}
	res, b = app.apiDo(http.MethodPost, "/api/v1/returns", strings.Replace(body, `"qty":1`, `"qty":2`, 1), "Idempotency-Key", "ret-1")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeIdempotencyMismatch, "")
	after := positionOf(t, app, sku, "S01")
	if after.OnHand != before.OnHand+2 || after.Damaged != before.Damaged+1 {
		t.Fatalf("S01 %+v, was %+v", after, before)
	}
	bad := func(lines, key string) (*http.Response, string) {
		return app.apiDo(http.MethodPost, "/api/v1/returns", fmt.Sprintf(`{"order":%d,"location":"S01","lines":[%s]}`, o.ID, lines), "Idempotency-Key", key)
	}
	res, b = bad(fmt.Sprintf(`{"sku":%q,"qty":2,"disposition":"restock"}`, sku), "ret-2")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeExceedsFulfilled, "lines[0].qty")
	res, b = bad(fmt.Sprintf(`{"sku":%q,"qty":1,"disposition":"keep"}`, sku), "ret-3")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "lines[0].disposition")
	res, b = bad(`{"sku":"NOPE-1","qty":1,"disposition":"restock"}`, "ret-4")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "lines[0].sku")
	res, b = app.apiDo(http.MethodPost, "/api/v1/returns", `{"order":999999999,"location":"S01","lines":[{"sku":"A","qty":1,"disposition":"restock"}]}`, "Idempotency-Key", "ret-5")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "order")
	if after2 := positionOf(t, app, sku, "S01"); after2 != after {
		t.Fatalf("a refused return moved stock: %+v", after2)
	}
	res, g := app.apiDo(http.MethodGet, fmt.Sprintf("/api/v1/returns/%d", r.ID), "")
	if res.StatusCode != http.StatusOK || decodeAs[returnBody](t, g).ID != r.ID || !strings.Contains(g, `"disposition":"damaged"`) {
		t.Fatalf("get %d %s", res.StatusCode, g)
	}
	res, b = app.apiDo(http.MethodGet, "/api/v1/returns/999999999", "")
	wantAPIError(t, res, b, http.StatusNotFound, domain.ENOTFOUND, "")
	checkOK(t, app.DB)
}

// POST /api/v1/orders/{id}/fulfilments records a shipment by SKU as the
// ship form does and answers the order; bad lines are 422 with field; the
// shipped units can then be returned.
func TestOrderFulfilmentsAPI(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sku := orderTestSKU(t, app, 61)
	counted := 6
	if _, err := app.DB.Adjust(ctx, domain.SystemActor("test"), sku, "DC1", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted}); err != nil && domain.ErrorCode(err) != domain.EINVALID {
		t.Fatal(err)
	}
	cr, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.EcommerceShip,
		Customer: domain.Customer{Name: "Fin Ship", Email: "fin@example.com"}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	loc := o.Lines[0].Location
	if loc == "" || o.Lines[0].Reserved != 3 {
		t.Fatalf("order not allocated: %+v", o.Lines[0])
	}
	path := fmt.Sprintf("/api/v1/orders/%d/fulfilments", o.ID)
	ship := func(b string) (*http.Response, string) { return app.apiDo(http.MethodPost, path, b) }
	res, b := ship(fmt.Sprintf(`{"location":%q,"lines":[{"sku":"NOPE-1","qty":1}],"tracking":"1Z1"}`, loc))
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "lines[0].sku")
	res, b = ship(fmt.Sprintf(`{"location":%q,"lines":[{"sku":%q,"qty":4}],"tracking":"1Z1"}`, loc, sku))
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "lines[0].qty")
	res, b = ship(fmt.Sprintf(`{"location":"ZZ9","lines":[{"sku":%q,"qty":1}],"tracking":"1Z1"}`, sku))
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "location")
	if res, b = ship(fmt.Sprintf(`{"location":%q,"lines":[{"sku":%q,"qty":1}]}`, loc, sku)); res.StatusCode/100 != 4 || !strings.Contains(b, `"field":"tracking"`) {
		t.Fatalf("no tracking: %d %s", res.StatusCode, b)
	}
	res, b = ship(fmt.Sprintf(`{"location":%q,"lines":[{"sku":%q,"qty":2}],"tracking":"1Z-FUL-1"}`, loc, sku))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ship %d %s", res.StatusCode, b)
	}
	got := decodeAs[orderGot](t, b)
	if got.Status != domain.OrderPartiallyFulfilled || !strings.Contains(b, `"shipped":2`) || !strings.Contains(b, "1Z-FUL-1") {
		t.Fatalf("answer %s", b)
	}
	// By order number too, and the rest ships.
	res, b = app.apiDo(http.MethodPost, "/api/v1/orders/"+o.Number+"/fulfilments", fmt.Sprintf(`{"location":%q,"lines":[{"sku":%q,"qty":1}],"tracking":"1Z-FUL-2"}`, loc, sku))
	if res.StatusCode != http.StatusOK || decodeAs[orderGot](t, b).Status != domain.OrderCompleted {
		t.Fatalf("second shipment %d %s", res.StatusCode, b)
	}
	res, b = app.apiDo(http.MethodPost, "/api/v1/returns", fmt.Sprintf(`{"order":%d,"location":"S03","lines":[{"sku":%q,"qty":3,"disposition":"quality_hold"}]}`, o.ID, sku),
		"Idempotency-Key", "ful-ret-1")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("return of shipped units %d %s", res.StatusCode, b)
	}
	checkOK(t, app.DB)
}

func positionOf(t *testing.T, app *testApp, sku, loc string) domain.Position {
	t.Helper()
	ctx := context.Background()
	l, _ := app.DB.LocationByCode(ctx, loc)
	p, _ := app.DB.ProductBySKU(ctx, sku)
	pos, err := app.DB.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// The ecommerce connector's refunds through the real parser, feed and
// order sink: a refund with restock of a shipped order's unit is a return
// received (restocked) at the mapped store; one without restock is a
// pending return that moves nothing. (Its own connector, fed directly and
// paused afterwards: the webhook test owns the connector webhooks reach.)
func TestConnectorRefundsRecordReturns(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sys := domain.SystemActor("test")
	conn, err := app.DB.CreateConnector(ctx, sys, store.NewConnector{Name: "shopify-refund-test", Kind: "ecommerce",
		Adapter: "shopify", BaseURL: "http://127.0.0.1:9", Enabled: true, Settings: json.RawMessage(`{"streams":["orders"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.DB.SetConnectorEnabled(context.Background(), sys, conn.ID, false) })
	if err := app.DB.SetMappings(ctx, sys, conn.ID, []store.Mapping{{Kind: "location", ExternalID: "68002", Code: "S02"}}); err != nil {
		t.Fatal(err)
	}
	ingest := func(evs []store.InboundEvent) store.IngestResult {
		t.Helper()
		res, err := app.DB.IngestAs(ctx, conn, evs, sys)
		if err != nil || res.Applied != len(evs) {
			t.Fatalf("ingest: %+v %v", res, err)
		}
		return res
	}
	sku := orderTestSKU(t, app, 63)
	counted := 10
	if _, err := app.DB.Adjust(ctx, sys, sku, "DC1", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted}); err != nil && domain.ErrorCode(err) != domain.EINVALID {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	const orderID = 820982911946177001
	ingest(connectors.ParseShopifyOrder(sim.ShopifyOrder(orderID, 7701, "rf@example.com", now, now, []sim.ShopifyLine{{ID: 1, VariantID: 4001, SKU: sku, Quantity: 3}}, 0, nil)))
	found, _, err := app.DB.SearchOrders(ctx, store.OrderQuery{ExternalRef: fmt.Sprint(orderID)})
	if err != nil || len(found) != 1 {
		t.Fatalf("order not created: %v %v", found, err)
	}
	o, _ := app.DB.OrderByID(ctx, found[0].ID)
	res, b := app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/fulfilments", o.ID),
		fmt.Sprintf(`{"location":%q,"lines":[{"sku":%q,"qty":3}],"tracking":"1Z-RF"}`, o.Lines[0].Location, sku))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ship: %d %s", res.StatusCode, b)
	}
	s02 := positionOf(t, app, sku, "S02")
	ingest([]store.InboundEvent{connectors.ParseShopifyRefund(sim.ShopifyRefund(77011, orderID, 1, sku, 1, 68002, now))})
	if got := positionOf(t, app, sku, "S02"); got.OnHand != s02.OnHand+1 {
		t.Fatalf("S02 %+v, was %+v", got, s02)
	}
	ingest([]store.InboundEvent{connectors.ParseShopifyRefund(sim.ShopifyRefundNoRestock(77012, orderID, 1, sku, 1, now))})
	if got := positionOf(t, app, sku, "S02"); got.OnHand != s02.OnHand+1 {
		t.Fatalf("a refund without restock moved stock: %+v", got)
	}
	rs, err := app.DB.ListReturns(ctx, store.ReturnFilter{OrderID: o.ID})
	if err != nil || len(rs) != 2 {
		t.Fatalf("returns %d %v", len(rs), err)
	}
	pending, received := rs[0], rs[1] // newest first
	if pending.Status != domain.ReturnPending || pending.Location != nil || received.Status != domain.ReturnReceived ||
		received.Location == nil || *received.Location != "S02" || received.Lines[0].Disposition != domain.DispositionRestock {
		t.Fatalf("returns %+v / %+v", pending, received)
	}
	if o, _ = app.DB.OrderByID(ctx, o.ID); o.Lines[0].Returned != 2 {
		t.Fatalf("order line %+v", o.Lines[0].LineQty)
	}
	checkOK(t, app.DB)
}
