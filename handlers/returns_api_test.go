package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"stockline/domain"
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
