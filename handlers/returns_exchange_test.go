package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"stockline/domain"
	"stockline/views"
)

// An exchange on the returns desk and through the API: a replacement the
// store cannot reserve refuses the whole submission (409, the form back
// with its values, nothing recorded); a good one redirects with a
// confirmation naming the exchange order, reserved at the associate's
// store and linked on both orders' timelines. The form needs the CSRF
// token and a desk role; another store's existing order cannot be linked
// (404, as if it did not exist). The API's optional "exchange" does the
// same; the documented fields are unchanged (TestReturnsAPI).
func TestReturnExchangeDeskAndAPI(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	skuA, skuB := orderTestSKU(t, app, 64), orderTestSKU(t, app, 65)
	o := collectedOrder(t, app, skuA, 4) // collected at S02; the associate works at S01
	setBOPISReservable(t, app.DB, skuB, "S01", 1)
	b := app.login(domain.RoleAssociate)
	b.get("/returns?q=" + o.Number)
	field := views.ReturnQtyField(o.Lines[0].ID, domain.DispositionRestock)
	form := func(qty string) url.Values {
		return url.Values{"order": {fmt.Sprint(o.ID)}, "location": {"S01"}, field: {"1"}, "exchange": {"new"},
			"x_sku": {skuB, ""}, "x_qty": {qty, ""}}
	}
	var returns int
	countReturns := func() int {
		var n int
		app.DB.GetContext(ctx, &n, `SELECT count(*) FROM returns WHERE order_id = $1`, o.ID)
		return n
	}
	beforeA, beforeB := positionOf(t, app, skuA, "S01"), positionOf(t, app, skuB, "S01")

	res, body := b.post("/returns", form("2"))
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, `data-testid="exchange-error"`) ||
		!strings.Contains(body, "2 × "+skuB+" wanted, 1 available") {
		t.Fatalf("short replacement: %d\n%s", res.StatusCode, body)
	}
	for _, v := range []string{`value="` + skuB + `"`, `value="2"`, `name="` + field + `" min="0" max="4" value="1"`} {
		if !strings.Contains(body, v) {
			t.Errorf("the form came back without %s", v)
		}
	}
	if a, x := positionOf(t, app, skuA, "S01"), positionOf(t, app, skuB, "S01"); a != beforeA || x != beforeB || countReturns() != returns {
		t.Fatalf("a refused exchange recorded something: %+v %+v, %d returns", a, x, countReturns())
	}
	if res, _ := b.post("/returns", url.Values{"_csrf": {"forged"}, "order": {fmt.Sprint(o.ID)}, "location": {"S01"}, field: {"1"},
		"exchange": {"new"}, "x_sku": {skuB}, "x_qty": {"1"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("without the CSRF token: %d", res.StatusCode)
	}
	if res, _ := app.login(domain.RoleSupport).post("/returns", form("1")); res.StatusCode != http.StatusForbidden {
		t.Fatalf("support on the returns desk: %d", res.StatusCode)
	}
	// Another store's order cannot be linked as the exchange.
	setBOPISReservable(t, app.DB, skuB, "S08", 1)
	other, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S08",
		Customer: domain.Customer{Name: "Oli Other"}, Lines: []domain.OrderLineInput{{SKU: skuB, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	link := url.Values{"order": {fmt.Sprint(o.ID)}, "location": {"S01"}, field: {"1"}, "exchange": {"link"}, "exchange_order": {other.Order.Number}}
	if res, body := b.post("/returns", link); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "No order has the number") || countReturns() != returns {
		t.Fatalf("linking another store's order: %d", res.StatusCode)
	}

	res, _ = b.post("/returns", form("1"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("exchange: %d", res.StatusCode)
	}
	_, body = b.get(res.Header.Get("Location"))
	if !strings.Contains(body, "Exchange order SL-") || !strings.Contains(body, "reserved at S01") || !strings.Contains(body, "exchanged for") {
		t.Fatalf("confirmation:\n%s", body)
	}
	rets, err := app.DB.ReturnByID(ctx, lastReturnOf(t, app, o.ID))
	if err != nil || rets.ExchangeID == nil {
		t.Fatalf("return %+v %v", rets, err)
	}
	x, _ := app.DB.OrderByID(ctx, *rets.ExchangeID)
	if x.PickupLocation != "S01" || x.CustomerEmail != "rae@example.com" || x.Lines[0].SKU != skuB || x.Lines[0].Reserved != 1 {
		t.Fatalf("exchange order %+v", x)
	}
	if _, page := b.get(fmt.Sprintf("/orders/%d", x.ID)); !strings.Contains(page, fmt.Sprintf("Exchange for return %d of order %s", rets.ID, o.Number)) {
		t.Fatal("the exchange order's timeline does not show the link")
	}
	if _, page := app.login(domain.RoleManager).get(fmt.Sprintf("/orders/%d", o.ID)); !strings.Contains(page, "Exchanged for order "+x.Number) {
		t.Fatal("the original order's timeline does not show the link")
	}
	if got := positionOf(t, app, skuB, "S01"); got.Reserved != beforeB.Reserved+1 {
		t.Fatalf("%s at S01 %+v, was %+v", skuB, got, beforeB)
	}

	// The API: short is 409 on exchange and records nothing; then 201.
	api := func(qty int, key string) (*http.Response, string) {
		return app.apiDo(http.MethodPost, "/api/v1/returns", fmt.Sprintf(`{"order":%d,"location":"S01","lines":[{"sku":%q,"qty":1,"disposition":"damaged"}],"exchange_order":null,"exchange":{"lines":[{"sku":%q,"qty":%d}]}}`,
			o.ID, skuA, skuB, qty), "Idempotency-Key", key)
	}
	returns = countReturns()
	res, body = api(1, "xchg-1")
	wantAPIError(t, res, body, http.StatusConflict, domain.CodeInsufficientStock, "exchange")
	if countReturns() != returns {
		t.Fatal("a refused API exchange recorded a return")
	}
	setBOPISReservable(t, app.DB, skuB, "S01", 1)
	res, body = api(1, "xchg-2")
	if res.StatusCode != http.StatusCreated || !strings.Contains(body, `"exchange_order":`) || strings.Contains(body, `"exchange_order":null`) {
		t.Fatalf("API exchange %d %s", res.StatusCode, body)
	}
	res, body = app.apiDo(http.MethodPost, "/api/v1/returns", fmt.Sprintf(`{"order":%d,"location":"S01","lines":[{"sku":%q,"qty":1,"disposition":"restock"}],"exchange_order":%d,"exchange":{"lines":[{"sku":%q,"qty":1}]}}`,
		o.ID, skuA, other.Order.ID, skuB), "Idempotency-Key", "xchg-3")
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "exchange")
	checkOK(t, app.DB)
	destroyNeedsReason(t, app, b, o, skuA)
}

// destroyNeedsReason: units destroyed on the desk need a reason (422
// beside the field, values kept, nothing moved); the reason is on the
// return's page and in the API's answer.
func destroyNeedsReason(t *testing.T, app *testApp, b *browser, o domain.Order, sku string) {
	t.Helper()
	field := views.ReturnQtyField(o.Lines[0].ID, domain.DispositionDestroy)
	b.get("/returns?q=" + o.Number)
	before := positionOf(t, app, sku, "S01")
	res, body := b.post("/returns", url.Values{"order": {fmt.Sprint(o.ID)}, "location": {"S01"}, field: {"1"}, "destroy_reason": {"  "}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-destroy_reason"`) || !strings.Contains(body, `name="`+field+`" min="0" max="2" value="1"`) {
		t.Fatalf("destroy without a reason: %d\n%s", res.StatusCode, body)
	}
	if got := positionOf(t, app, sku, "S01"); got != before {
		t.Fatalf("a refused return moved stock: %+v", got)
	}
	res, _ = b.post("/returns", url.Values{"order": {fmt.Sprint(o.ID)}, "location": {"S01"}, field: {"1"}, "destroy_reason": {"glass shattered"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("destroy with a reason: %d", res.StatusCode)
	}
	if _, page := b.get(res.Header.Get("Location")); !strings.Contains(page, "Reason: glass shattered") {
		t.Fatal("the return's page does not show the reason")
	}
	id := lastReturnOf(t, app, o.ID)
	if res, g := app.apiDo(http.MethodGet, fmt.Sprintf("/api/v1/returns/%d", id), ""); res.StatusCode != http.StatusOK || !strings.Contains(g, `"reason":"glass shattered"`) {
		t.Fatalf("API %d %s", res.StatusCode, g)
	}
	checkOK(t, app.DB)
}

func lastReturnOf(t *testing.T, app *testApp, orderID int64) int64 {
	t.Helper()
	var id int64
	if err := app.DB.GetContext(context.Background(), &id, `SELECT max(id) FROM returns WHERE order_id = $1`, orderID); err != nil {
		t.Fatal(err)
	}
	return id
}
