package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
	"stockline/store"
)

// Order tests use demo SKUs at indexes 1700–1799.
func orderTestSKU(t *testing.T, app *testApp, i int) string { return resvSKU(t, app.DB, 1700+i) }

type orderCreated struct {
	ID     int64  `json:"id"`
	Number string `json:"number"`
	Status string `json:"status"`
	Lines  []struct {
		SKU      string  `json:"sku"`
		Qty      int     `json:"qty"`
		Location *string `json:"location"`
		State    string  `json:"state"`
	} `json:"lines"`
}

type orderGot struct {
	orderCreated
	ExternalRef string `json:"external_ref"`
	Customer    struct {
		Name, Email, Phone string
	} `json:"customer"`
	Timeline []struct {
		At      string `json:"at"`
		Kind    string `json:"kind"`
		Actor   string `json:"actor"`
		Source  string `json:"source"`
		Message string `json:"message"`
	} `json:"timeline"`
}

func (a *testApp) postOrder(body, key string) (*http.Response, string) {
	return a.apiDo(http.MethodPost, "/api/v1/orders", body, "Idempotency-Key", key)
}

func TestOrdersAPIContract(t *testing.T) {
	app := newApp(t)
	sku, short := orderTestSKU(t, app, 0), orderTestSKU(t, app, 1)
	setBOPISReservable(t, app.DB, sku, "S01", 5)
	setBOPISReservable(t, app.DB, short, "S01", 0)
	body := fmt.Sprintf(`{"channel":"bopis","external_ref":"web-4001","customer":{"name":"Ann Lee","email":"ann.api@example.com","phone":"+1 555 010 4001"},
		"pickup_location":"S01","payment_status":"authorized","lines":[{"sku":%q,"qty":2}]}`, sku)

	res, out := app.postOrder(body, "")
	wantAPIError(t, res, out, http.StatusBadRequest, domain.CodeIdempotencyKeyRequired, "Idempotency-Key")

	key := newKey()
	res, out = app.postOrder(body, key)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, out)
	}
	o := decodeAs[orderCreated](t, out)
	if o.ID == 0 || !strings.HasPrefix(o.Number, "SL-") || o.Status != "allocated" || len(o.Lines) != 1 ||
		o.Lines[0].SKU != sku || o.Lines[0].Qty != 2 || o.Lines[0].Location == nil || *o.Lines[0].Location != "S01" || o.Lines[0].State != "reserved" {
		t.Fatalf("created body: %s", out)
	}
	// Same key, same body: the same answer, byte for byte, and no second order.
	res2, out2 := app.postOrder(body, key)
	if res2.StatusCode != http.StatusCreated || out2 != out {
		t.Fatalf("replay: %d %s", res2.StatusCode, out2)
	}
	res, out = app.postOrder(strings.Replace(body, `"qty":2`, `"qty":1`, 1), key)
	wantAPIError(t, res, out, http.StatusUnprocessableEntity, domain.CodeIdempotencyMismatch, "")
	if bopisReservable(t, app.DB, sku, "S01") != 3 {
		t.Fatal("the replay held stock twice")
	}

	// GET with the timeline.
	res, out = app.apiDo(http.MethodGet, fmt.Sprintf("/api/v1/orders/%d", o.ID), "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", res.StatusCode, out)
	}
	got := decodeAs[orderGot](t, out)
	if got.Number != o.Number || got.ExternalRef != "web-4001" || got.Customer.Email != "ann.api@example.com" || len(got.Timeline) < 3 {
		t.Fatalf("get body: %s", out)
	}
	for _, e := range got.Timeline {
		if e.At == "" || e.Kind == "" || e.Message == "" {
			t.Fatalf("timeline entry lacks fields: %+v", e)
		}
	}
	if !strings.Contains(out, `"actor":"token:`) {
		t.Fatalf("timeline should name the API token as actor: %s", out)
	}

	// Search.
	res, out = app.apiDo(http.MethodGet, "/api/v1/orders?external_ref=web-4001&email=ann.api@example.com", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("search: %d %s", res.StatusCode, out)
	}
	var found struct {
		Orders []struct {
			ID                                   int64
			Number, ExternalRef, Channel, Status string
		} `json:"orders"`
	}
	found = decodeAs[struct {
		Orders []struct {
			ID                                   int64
			Number, ExternalRef, Channel, Status string
		} `json:"orders"`
	}](t, out)
	if len(found.Orders) != 1 || found.Orders[0].ID != o.ID || !strings.Contains(out, `"external_ref":"web-4001"`) || !strings.Contains(out, `"channel":"bopis"`) {
		t.Fatalf("search body: %s", out)
	}
	res, out = app.apiDo(http.MethodGet, "/api/v1/orders?external_ref=web-4001&email=nobody@example.com", "")
	if res.StatusCode != http.StatusOK || strings.TrimSpace(out) != `{"orders":[]}` {
		t.Fatalf("search with no hit: %d %s", res.StatusCode, out)
	}

	// Cancel one unit, then the rest; stock comes back.
	res, out = app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), fmt.Sprintf(`{"lines":[{"sku":%q,"qty":1}],"reason":"changed mind"}`, sku))
	if res.StatusCode != http.StatusOK || !strings.Contains(out, `"status":"allocated"`) {
		t.Fatalf("cancel one: %d %s", res.StatusCode, out)
	}
	if !strings.Contains(out, "reason code other") {
		t.Fatalf("free text alone should be counted as other: %s", out)
	}
	res, out = app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), `{"reason_code":"bored"}`)
	wantAPIError(t, res, out, http.StatusUnprocessableEntity, domain.CodeUnknownReasonCode, "reason_code")
	res, out = app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), `{"reason":"gone"}`)
	if res.StatusCode != http.StatusOK || !strings.Contains(out, `"status":"cancelled"`) {
		t.Fatalf("cancel all: %d %s", res.StatusCode, out)
	}
	if bopisReservable(t, app.DB, sku, "S01") != 5 {
		t.Fatal("cancel did not release the stock")
	}
	res, out = app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID), "")
	wantAPIError(t, res, out, http.StatusConflict, domain.ECONFLICT, "")

	// An order that cannot be reserved is created on hold, with its
	// oversell exception already there.
	res, out = app.postOrder(fmt.Sprintf(`{"channel":"bopis","customer":{"email":"short@example.com"},"pickup_location":"S01","payment_status":"captured","lines":[{"sku":%q,"qty":1}]}`, short), newKey())
	if res.StatusCode != http.StatusCreated || !strings.Contains(out, `"status":"on_hold"`) || !strings.Contains(out, `"state":"pending"`) {
		t.Fatalf("oversell: %d %s", res.StatusCode, out)
	}
	held := decodeAs[orderCreated](t, out)
	for _, kind := range []string{"oversell", "payment_before_stock"} {
		rows, _, err := app.DB.ListExceptions(context.Background(), store.ExceptionFilter{Kind: kind, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, r := range rows {
			ok = ok || r.Ref == held.Number && (kind != "oversell" || r.SKU == short && r.Location == "S01")
		}
		if !ok {
			t.Fatalf("no %s exception for %s", kind, held.Number)
		}
	}

	ordersAPIRefusesBadOrders(t, app, sku)
	checkOK(t, app.DB)
}

// The order API commits an existing reservation to the order.
func TestOrdersAPIWithReservation(t *testing.T) {
	app := newApp(t)
	sku := orderTestSKU(t, app, 2)
	setBOPISReservable(t, app.DB, sku, "S02", 3)
	res, out := app.reserve(fmt.Sprintf(`{"channel":"bopis","location":"S02","lines":[{"sku":%q,"qty":2}]}`, sku), newKey())
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("reserve: %s", out)
	}
	r := decodeAs[reservationBody](t, out)
	res, out = app.postOrder(fmt.Sprintf(`{"channel":"bopis","customer":{"name":"Res"},"reservation_id":%d,"lines":[{"sku":%q,"qty":2}]}`, r.ID, sku), newKey())
	if res.StatusCode != http.StatusCreated || !strings.Contains(out, `"location":"S02"`) {
		t.Fatalf("order from reservation: %d %s", res.StatusCode, out)
	}
	o := decodeAs[orderCreated](t, out)
	res, out = app.apiDo(http.MethodGet, fmt.Sprintf("/api/v1/reservations/%d", r.ID), "")
	if !strings.Contains(out, `"status":"committed"`) || !strings.Contains(out, `"order_ref":"`+o.Number+`"`) {
		t.Fatalf("reservation after: %s", out)
	}
	if bopisReservable(t, app.DB, sku, "S02") != 1 {
		t.Fatal("committing must not hold the stock twice")
	}
	checkOK(t, app.DB)
}

var formAction = regexp.MustCompile(`action="(/pickups/\d+/lines/\d+/[a-z]+)"`)

// An associate's home is the pickup queue; a scan confirms each pick and
// the order becomes ready; the list fragment refreshes on its own.
func TestPickupPages(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sku := orderTestSKU(t, app, 3)
	setBOPISReservable(t, app.DB, sku, "S01", 4)
	cr, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S01",
		Customer: domain.Customer{Name: "Pia Pickup", Email: "pia@example.com"}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	b := app.browser()
	b.get("/login")
	u := demoUser(t, domain.RoleAssociate)
	res, _ := b.post("/login", url.Values{"email": {u.Email}, "password": {u.Password}})
	if res.Header.Get("Location") != "/pickups" {
		t.Fatalf("associate home: %q", res.Header.Get("Location"))
	}
	res, body := b.get("/pickups")
	if res.StatusCode != 200 || !strings.Contains(body, o.Number) || !strings.Contains(body, "due in") || !strings.Contains(body, `hx-trigger="every 5s"`) {
		t.Fatalf("queue: %d %s", res.StatusCode, body)
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	if doc.Find(`#pickup-list [data-autofocus-scan]`).Length() != 0 || doc.Find(`[data-autofocus-scan]`).Length() != 1 {
		t.Fatal("the scan field must sit outside the refreshed list")
	}
	if doc.Find(`nav a[href="/pickups"]`).Length() == 0 {
		t.Fatal("the associate's navigation links to the pickup queue")
	}
	res, body = b.get("/pickups/list?tab=to_pick", "HX-Request", "true")
	if res.StatusCode != 200 || strings.Contains(body, "<html") || !strings.Contains(body, o.Number) {
		t.Fatalf("list fragment: %d", res.StatusCode)
	}
	res, _ = b.get("/pickups/find?q=" + url.QueryEscape(o.Number))
	if res.Header.Get("Location") != fmt.Sprintf("/pickups/%d", o.ID) {
		t.Fatalf("scan an order number: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = b.get(fmt.Sprintf("/pickups/%d", o.ID))
	m := formAction.FindStringSubmatch(body)
	if m == nil || !strings.HasSuffix(m[1], "/pick") {
		t.Fatalf("pick form: %s", body)
	}
	// A wrong scan keeps what was typed and says what is expected.
	res, body = b.post(m[1], url.Values{"scan": {"4000000000000"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "4000000000000") || !strings.Contains(body, o.Lines[0].Barcode) {
		t.Fatalf("wrong scan: %d", res.StatusCode)
	}
	res, _ = b.post(m[1], url.Values{"scan": {o.Lines[0].Barcode}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pick: %d", res.StatusCode)
	}
	_, body = b.get(res.Header.Get("Location"))
	if !strings.Contains(body, "ready for pickup") || !strings.Contains(body, "customer has been notified") {
		t.Fatalf("after pick: %s", body)
	}
	_, body = b.get("/pickups?tab=ready")
	if !strings.Contains(body, o.Number) {
		t.Fatal("the ready tab lists the order")
	}
	res, _ = b.post(fmt.Sprintf("/pickups/%d/handover", o.ID), nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("hand over: %d", res.StatusCode)
	}
	got, _ := app.DB.OrderByID(ctx, o.ID)
	if got.Status != domain.OrderCompleted {
		t.Fatalf("status %s", got.Status)
	}
	// Another store's associate cannot open it.
	other, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S08",
		Customer: domain.Customer{Name: "Elsewhere"}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	res, _ = b.get(fmt.Sprintf("/pickups/%d", other.Order.ID))
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("other store's order: %d", res.StatusCode)
	}
	checkOK(t, app.DB)
}

// Support finds an order by email, adds a note, cancels a line, changes
// the pickup store; the timeline shows each with who did it.
func TestSupportOrderPage(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	a, b2 := orderTestSKU(t, app, 4), orderTestSKU(t, app, 5)
	setBOPISReservable(t, app.DB, a, "S02", 4)
	setBOPISReservable(t, app.DB, b2, "S02", 4)
	setBOPISReservable(t, app.DB, a, "S03", 0)
	setBOPISReservable(t, app.DB, a, "S04", 4)
	setBOPISReservable(t, app.DB, b2, "S04", 4)
	cr, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S02",
		Customer: domain.Customer{Name: "Sam Support", Email: "sam.support@example.com"}, Lines: []domain.OrderLineInput{{SKU: a, Qty: 2}, {SKU: b2, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	s := app.login(domain.RoleSupport)
	res, body := s.get("/")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/orders" {
		t.Fatalf("support home: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = s.get("/orders")
	if !strings.Contains(body, "data-autofocus-scan") {
		t.Fatal("the search field takes the cursor")
	}
	res, _ = s.get("/orders?q=" + url.QueryEscape("Sam.Support@example.com"))
	if res.Header.Get("Location") != fmt.Sprintf("/orders/%d", o.ID) {
		t.Fatalf("search by email: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	path := fmt.Sprintf("/orders/%d", o.ID)
	_, body = s.get(path)
	res, body = s.post(path+"/notes", url.Values{"note": {""}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-testid="err-note"`) {
		t.Fatalf("empty note: %d", res.StatusCode)
	}
	res, _ = s.post(path+"/notes", url.Values{"note": {"Customer called: will collect Friday."}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("note: %d", res.StatusCode)
	}
	res, _ = s.post(fmt.Sprintf("%s/lines/%d/cancel", path, o.Lines[1].ID), url.Values{"qty": {"1"}, "reason": {"customer request"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel line: %d", res.StatusCode)
	}
	res, body = s.post(path+"/pickup-location", url.Values{"location": {"S03"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "S04") {
		t.Fatalf("move to a store without stock: %d", res.StatusCode)
	}
	res, _ = s.post(path+"/pickup-location", url.Values{"location": {"S04"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("move pickup: %d", res.StatusCode)
	}
	_, body = s.get(path)
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	tl := doc.Find(`[data-testid="timeline"]`).Text()
	for _, want := range []string{"Customer called: will collect Friday.", "Cancelled 1 × " + b2, "Pickup store changed from S02 to S04", "user:support@demo.stockline", "Reservation"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if got := doc.Find(`[data-testid="pickup-store"]`).Text(); !strings.Contains(got, "S04") {
		t.Errorf("pickup store shows %q", got)
	}
	if !strings.Contains(body, "Items cancelled") && doc.Find(`[data-testid="flash"]`).Length() == 0 {
		t.Error("the page confirms the effect")
	}
	checkOK(t, app.DB)
}

// The cancel API's body is optional: an empty or blank one cancels every
// open unit, and a malformed one is invalid_json. (The handler tells them
// apart by decoding, not by reading the error's message.)
func TestOrderCancelBodyIsOptional(t *testing.T) {
	app := newApp(t)
	sku := orderTestSKU(t, app, 6)
	setBOPISReservable(t, app.DB, sku, "S01", 5)
	res, out := app.postOrder(fmt.Sprintf(`{"channel":"bopis","customer":{"email":"blank.cancel@example.com"},"pickup_location":"S01","lines":[{"sku":%q,"qty":1}]}`, sku), newKey())
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, out)
	}
	o := decodeAs[orderCreated](t, out)
	path := fmt.Sprintf("/api/v1/orders/%d/cancel", o.ID)
	for _, bad := range []string{"{", `{"reason":`, `{} {}`} {
		res, out = app.apiDo(http.MethodPost, path, bad)
		wantAPIError(t, res, out, http.StatusBadRequest, domain.EBADJSON, "")
	}
	res, out = app.apiDo(http.MethodPost, path, " \n ")
	if res.StatusCode != http.StatusOK || !strings.Contains(out, `"status":"cancelled"`) {
		t.Fatalf("cancel with a blank body: %d %s", res.StatusCode, out)
	}
	res, out = app.apiDo(http.MethodPost, path, " ")
	wantAPIError(t, res, out, http.StatusConflict, domain.ECONFLICT, "")
}

// ordersAPIRefusesBadOrders posts invalid orders and reads an unknown one:
// each is the precise API error.
func ordersAPIRefusesBadOrders(t *testing.T, app *testApp, sku string) {
	t.Helper()
	// Validation.
	for _, tc := range []struct {
		body        string
		status      int
		code, field string
	}{
		{`{"channel":"fax","customer":{"name":"x"},"lines":[{"sku":"X","qty":1}]}`, 400, domain.EINVALID, "channel"},
		{fmt.Sprintf(`{"channel":"bopis","customer":{"name":"x"},"lines":[{"sku":%q,"qty":1}]}`, sku), 400, domain.EINVALID, "pickup_location"},
		{`{"channel":"bopis","customer":{"name":"x"},"pickup_location":"S01","lines":[{"sku":"NO-SUCH","qty":1}]}`, 404, domain.ENOTFOUND, "lines[0].sku"},
		{fmt.Sprintf(`{"channel":"bopis","customer":{"name":"x"},"pickup_location":"S06","lines":[{"sku":%q,"qty":1}]}`, sku), 400, domain.CodeLocationNotEligible, "pickup_location"},
		{fmt.Sprintf(`{"channel":"bopis","customer":{"name":"x"},"pickup_location":"S01","lines":[{"sku":%q,"qty":0}]}`, sku), 400, domain.EINVALID, "lines[0].qty"},
		{`{"channel":`, 400, domain.EBADJSON, ""},
	} {
		res, out := app.postOrder(tc.body, newKey())
		wantAPIError(t, res, out, tc.status, tc.code, tc.field)
	}
	res, out := app.apiDo(http.MethodGet, "/api/v1/orders/999999999", "")
	wantAPIError(t, res, out, http.StatusNotFound, domain.ENOTFOUND, "")
}
